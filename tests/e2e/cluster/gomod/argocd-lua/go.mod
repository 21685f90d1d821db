// argocd-lua: Argo CD's Lua runtime (gopher-lua, with Argo CD's library set and object
// decoding) as a tiny command, so the health scripts in examples/k8s/argocd are tested the way
// Argo CD runs them. Bump the versions here, then `go mod tidy`.
module trodden.local/e2e/argocdlua

go 1.24.0

require (
	github.com/yuin/gopher-lua v1.1.1
	layeh.com/gopher-json v0.0.0-20201124131017-552bb3c4c3bf
)
