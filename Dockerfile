# One image for everything Trodden runs in a cluster: the operator, the collectors, the selection and
# generation Jobs and the replay pods (with Chromium for browser replay). Entry point: the CLI.
#
#   docker build -t trodden:0.1.0 .
#   podman build --build-arg BASE_IMAGE=localhost/trodden-e2e-base:local -t trodden:e2e .
#
# The base is a build argument: any Debian bookworm image with Python 3.11 (the default registry
# image, or a locally debootstrapped one where no registry is reachable).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Debian's own python3 lacks venv/pip; the python:* images have them.
RUN if ! python3 -c "import ensurepip, venv" 2>/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3-venv python3-pip \
      && rm -rf /var/lib/apt/lists/*; \
    fi
RUN python3 -m venv /opt/trodden
WORKDIR /src
COPY pyproject.toml README.md ./
COPY trodden ./trodden
COPY collector ./collector
COPY synthesis ./synthesis
COPY replay-runner ./replay-runner
COPY operator ./operator
COPY examples/shop ./examples/shop
RUN /opt/trodden/bin/pip install --no-cache-dir --upgrade pip setuptools wheel \
    && /opt/trodden/bin/pip install --no-cache-dir . \
    && /opt/trodden/bin/trodden --version

FROM ${BASE_IMAGE}
# Chromium for browser replay (Playwright drives Debian's build), fonts so pages render.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && (getent group trodden || groupadd --gid 10001 trodden) \
    && (id trodden 2>/dev/null || useradd --uid 10001 --gid 10001 --home-dir /home/trodden --create-home trodden)
COPY --from=build /opt/trodden /opt/trodden
ENV PATH=/opt/trodden/bin:$PATH \
    PLAYWRIGHT_CHROMIUM_EXECUTABLE=/usr/bin/chromium \
    TRODDEN_HOME=/tmp/trodden \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/trodden
ENTRYPOINT ["/usr/bin/tini", "--", "trodden"]
CMD ["--help"]
