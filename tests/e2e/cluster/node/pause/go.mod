// The pod sandbox ("pause") binary: no registry is reachable here, so the local node
// builds its own sandbox image instead of pulling registry.k8s.io/pause.
module trodden.local/e2e/pause

go 1.24.0
