# The local Kubernetes cluster for the e2e tests (tests/e2e/cluster/), included by the root
# Makefile. The cluster scripts need only the standard library and openssl, so the cluster
# targets run with the system python3; `e2e` runs pytest from the project's virtualenv.
#
#   make cluster-bins            build (or find cached) etcd + control-plane binaries
#   make cluster                 start the local cluster, kubeconfig at $(CLUSTER_DIR)/kubeconfig
#   make cluster-status          show ports, pids and readiness
#   make cluster-down            stop it
#   make e2e                     pytest tests/e2e (local cluster, or KUBECONFIG=... for kind)
#   CLUSTER_NODE=1 make ...      stage 2: also a node (containerd + kubelet), pods really run

CLUSTER_PYTHON ?= python3
CLUSTER_DIR ?= .cluster
CLUSTER_NODE ?= 0
E2E_ARGS ?=

CLUSTER_SCRIPTS := tests/e2e/cluster
CLUSTER_NODE_FLAG := $(if $(filter 1,$(CLUSTER_NODE)),--node,)

.PHONY: cluster-bins cluster cluster-status cluster-down e2e

cluster-bins:
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/k8sbins.py $(CLUSTER_NODE_FLAG)

cluster: cluster-bins
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/localcluster.py up --dir $(CLUSTER_DIR) $(CLUSTER_NODE_FLAG)

cluster-status:
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/localcluster.py status --dir $(CLUSTER_DIR)

cluster-down:
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/localcluster.py down --dir $(CLUSTER_DIR)

# With KUBECONFIG set (make e2e KUBECONFIG=~/.kube/config) the tests use that cluster;
# otherwise the session starts its own local cluster and stops it at the end.
e2e: venv
	TRODDEN_E2E_NODE=$(CLUSTER_NODE) $(PY) -m pytest tests/e2e $(E2E_ARGS)
