# One image for everything Trodden runs in a cluster: the operator, the collectors, the selection and
# generation Jobs, the replay pods (with Chromium for browser replay) and the demo shop.
# Entry point: the CLI (`trodden ...`); the shop runs as `python3 -m trodden.shop`.
#
#   docker build -t trodden:0.1.0 .
#   podman build --build-arg BASE_IMAGE=localhost/trodden-e2e-base:local -t localhost/trodden:dev .
#   make image        # the local e2e build: cached by content hash, imported into containerd
#
# The base is a build argument: any Debian bookworm image with Python 3.11 (the default registry
# image, or a debootstrapped one where no registry is reachable: tests/e2e/cluster/node/base-image.sh).
#
# Behind a TLS-intercepting proxy, give pip the proxy's CA bundle as an optional build secret:
#   podman build --secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt ...
# Without it the build uses the image's own certificates (the secret is not required).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Debian's own python3 lacks venv/ensurepip; the python:* images have them.
RUN if ! python3 -c "import ensurepip, venv" 2>/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3-venv \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/trodden
WORKDIR /src
# Dependencies first, from pyproject alone: this layer stays cached while only sources change.
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca-bundle \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
    && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
       > /tmp/requirements.txt \
    && /opt/trodden/bin/pip install --no-cache-dir --disable-pip-version-check "setuptools>=77" wheel \
    && /opt/trodden/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt
COPY README.md ./
COPY trodden ./trodden
COPY collector ./collector
COPY synthesis ./synthesis
COPY replay-runner ./replay-runner
COPY operator ./operator
COPY examples/shop ./examples/shop
# --no-build-isolation: setuptools is already in the venv, so this step needs no network. The import
# check runs from / (in /src the source folder `trodden/` would shadow the installed package).
RUN /opt/trodden/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation . \
    && cd / && /opt/trodden/bin/trodden --version \
    && /opt/trodden/bin/python -c "import trodden.shop, trodden.operator.handlers, trodden.replay, trodden.collector"

FROM ${BASE_IMAGE}
# Chromium for browser replay (Playwright drives Debian's build), fonts so pages render, tini as PID 1,
# libatomic1 for Playwright's bundled node driver (absent from slim and debootstrapped bases).
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation ca-certificates tini libatomic1 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
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
