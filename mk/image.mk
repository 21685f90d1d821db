# The project's own image for the local cluster's node (stage 2), built with podman from the root
# Dockerfile on the debootstrapped base, cached under .cache/image/ by a hash of its inputs
# (Dockerfile, .dockerignore, pyproject.toml, README.md, package sources) and imported into the
# node's containerd by the e2e fixture `project_image`.
#
#   make image        build it (or find it cached); prints the archive's path
#
# Elsewhere: `docker build -t trodden:0.1.0 .` (the Dockerfile's default base is a registry image).

.PHONY: image

# After cluster-bins: that target installs podman and makes the base image.
# CLUSTER_NODE is defined by tests/e2e/cluster/cluster.mk, included after this file, so it is tested
# when the recipe runs, not with a parse-time ifneq (which saw it empty and built with `off`).
image: cluster-bins
	@if [ "$(CLUSTER_NODE)" != off ]; then \
		$(CLUSTER_PYTHON) tests/e2e/cluster/projectimage.py build $(CLUSTER_NODE); \
	fi

# Built before pytest starts (a cold build takes minutes), only where the local node runs.
ifeq ($(KUBECONFIG),)
TEST_PREREQS += image
endif
