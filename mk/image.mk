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
image: cluster-bins
ifneq ($(CLUSTER_NODE),off)
	$(CLUSTER_PYTHON) tests/e2e/cluster/projectimage.py build $(CLUSTER_NODE)
endif

# Built before pytest starts (a cold build takes minutes), only where the local node runs.
ifeq ($(KUBECONFIG),)
TEST_PREREQS += image
endif
