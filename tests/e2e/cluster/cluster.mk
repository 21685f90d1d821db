# The local Kubernetes cluster for the e2e tests (tests/e2e/cluster/), included by the root
# Makefile. The cluster scripts need only the standard library and openssl, so the cluster
# targets run with the system python3; `e2e` runs pytest from the project's virtualenv.
#
#   make cluster-bins            build (or find cached) etcd, control plane, kubectl (+ node, CoreDNS)
#   make go-tools                build (or find cached) the Go programs the tests run (gobins.py)
#   make cluster                 start the local cluster, kubeconfig at $(CLUSTER_DIR)/kubeconfig
#   make cluster-status          show ports, pids and readiness
#   make cluster-down            stop it
#   make cluster-node-deps       install the Debian packages the node needs (root)
#   make e2e                     pytest tests/e2e (local cluster, or KUBECONFIG=... for kind)
#   make e2e-flagger             the real Flagger controller gating canaries (not in make test)
#
# CLUSTER_NODE (stage 2, a node so pods run): auto = when this machine can run one (root,
# the Debian packages), on = required, off = control plane only.

CLUSTER_PYTHON ?= python3
CLUSTER_DIR ?= .cluster
# (TRODDEN_E2E_NODE from the environment is honoured as the default.)
CLUSTER_NODE ?= $(or $(TRODDEN_E2E_NODE),auto)
E2E_ARGS ?= -m "not flagger"

CLUSTER_SCRIPTS := tests/e2e/cluster
# The pytest session (make test, make e2e) starts its cluster with the same node mode.
export TRODDEN_E2E_NODE := $(CLUSTER_NODE)

# Built before pytest starts, so a cold build shows its progress and never counts against
# a test's timeout; with KUBECONFIG set nothing local is needed.
ifeq ($(KUBECONFIG),)
TEST_PREREQS += cluster-bins
endif

.PHONY: cluster-bins cluster-node-deps cluster cluster-status cluster-down e2e e2e-flagger go-tools

# Go programs the tests run, built from their modules into .cache/go-tools (gobins.py): Argo CD's
# Lua runtime for the health-check tests, always; the Argo Rollouts controller where the node runs
# (its test needs pods). CoreDNS comes with the node (localnode prepare).
go-tools:
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/gobins.py argocd-lua $(if $(filter off,$(CLUSTER_NODE)),,argo-rollouts)

TEST_PREREQS += go-tools

cluster-node-deps:
ifneq ($(CLUSTER_NODE),off)
	@bash $(CLUSTER_SCRIPTS)/node/deps.sh
endif

cluster-bins: cluster-node-deps
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/k8sbins.py
ifneq ($(CLUSTER_NODE),off)
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/localnode.py prepare $(CLUSTER_NODE)
endif

cluster: cluster-bins
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/localcluster.py up --dir $(CLUSTER_DIR) --node $(CLUSTER_NODE)

cluster-status:
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/localcluster.py status --dir $(CLUSTER_DIR)

cluster-down:
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/localcluster.py down --dir $(CLUSTER_DIR)

# With KUBECONFIG set (make e2e KUBECONFIG=~/.kube/config) the tests use that cluster;
# otherwise the session starts its own local cluster and stops it at the end.
e2e: venv $(if $(KUBECONFIG),,cluster-bins)
	bash scripts/run-pytest.sh tests/e2e $(E2E_ARGS)

# Flagger, built from its Go module, gating canaries through the operator's webhook: several
# minutes of build and of test that `make test` leaves out (its request sequence is tested there,
# tests/e2e/test_gates.py). Needs a node (or KUBECONFIG).
e2e-flagger: venv $(if $(KUBECONFIG),,cluster-bins image)
	$(CLUSTER_PYTHON) $(CLUSTER_SCRIPTS)/gobins.py flagger
	bash scripts/run-pytest.sh tests/e2e/test_loop_in_pods.py -m flagger
