// Command etcd is the upstream etcd server: the same entry point as etcd's own main
// package (go.etcd.io/etcd/server/v3/main.go), which cannot be built as a dependency.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
