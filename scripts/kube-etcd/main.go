// Command etcd is etcd's own server, built from its Go module at the version
// in go.mod, for scripts/kube-test-cluster: the test Kubernetes cluster's
// store. It takes etcd's flags.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
