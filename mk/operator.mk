# Operator (issue 6): chart checks and the tools they need.
#
#   make operator-tools   build helm and kubeconform from the Go module proxy into .cache/bin (once)
#   make chart-check      helm lint + helm template | kubeconform -strict with the CRD schemas
#   make crd-schemas      JSON schemas for kubeconform, generated from crds/*.yaml
#
# helm and kubeconform are not Debian packages; `go install` builds them from the module proxy.

OPERATOR_BIN := $(CURDIR)/.cache/bin
HELM := $(OPERATOR_BIN)/helm
KUBECONFORM := $(OPERATOR_BIN)/kubeconform
HELM_VERSION ?= v3.16.4
KUBECONFORM_VERSION ?= v0.6.7
# Per checkout (generated from this checkout's CRDs), not in .cache/, which checkouts may share.
CRD_SCHEMA_DIR := $(CURDIR)/.venv/crd-schemas
# CRDs themselves are validated by a real kube-apiserver in tests/e2e (the inlined schema of
# CustomResourceDefinition is recursive and does not compile in kubeconform).
KUBECONFORM_SKIP := -skip CustomResourceDefinition

.PHONY: operator-tools chart-check crd-schemas

$(HELM):
	@mkdir -p $(OPERATOR_BIN)
	@echo "building helm $(HELM_VERSION) with go install (once)"
	GOBIN=$(OPERATOR_BIN) CGO_ENABLED=0 go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

$(KUBECONFORM):
	@mkdir -p $(OPERATOR_BIN)
	@echo "building kubeconform $(KUBECONFORM_VERSION) with go install (once)"
	GOBIN=$(OPERATOR_BIN) CGO_ENABLED=0 go install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

operator-tools: $(HELM) $(KUBECONFORM)

crd-schemas: venv
	$(PY) -m trodden.operator.kubeschemas $(CRD_SCHEMA_DIR) crds charts/trodden/crds

# Every values variant that changes what the chart renders is checked against the schemas.
CHART_VARIANTS := \
	"" \
	"--set postgres.enabled=false --set externalDatabase.existingSecret=trodden-db" \
	"--set operator.replicas=2" \
	"--set operator.replicas=2 --set operator.watchNamespaces={shop,staging}" \
	"--set-string postgres.password=p@ss:w/rd%23!&x" \
	"--set postgres.existingSecret=team-db --set postgres.passwordKey=pw" \
	"--set operator.replicas=3 --set operator.podDisruptionBudget.minAvailable=2"
CONFORM := $(KUBECONFORM) -strict -summary $(KUBECONFORM_SKIP) \
	-schema-location '$(CRD_SCHEMA_DIR)/{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json'

chart-check: operator-tools crd-schemas
	@set -e; for variant in $(CHART_VARIANTS); do \
		echo "chart: helm lint + kubeconform $${variant:-(defaults)}"; \
		$(HELM) lint --strict charts/trodden $$variant; \
		$(HELM) template trodden charts/trodden --include-crds $$variant | $(CONFORM); \
	done

TEST_PREREQS += operator-tools chart-check

# The example manifests against the same schemas (Argo Rollouts / Flagger kinds have none here).
chart-check: examples-check
.PHONY: examples-check
examples-check: crd-schemas operator-tools
	$(KUBECONFORM) -strict -summary -ignore-missing-schemas \
		-schema-location '$(CRD_SCHEMA_DIR)/{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json' \
		examples/k8s/shop.yaml examples/k8s/argocd/postsync-replayrun.yaml examples/k8s/argocd/argocd-cm.yaml \
		examples/k8s/argo-rollouts examples/k8s/flagger
