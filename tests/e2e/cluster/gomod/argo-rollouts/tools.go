//go:build tools

// Package tools pins the command this module builds (the build script runs `go build` on
// this import path); this file keeps it in go.mod/go.sum.
package tools

import _ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
