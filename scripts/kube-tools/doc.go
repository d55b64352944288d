// Package kubetools holds the small programs scripts/kube-test-cluster
// builds for the test Kubernetes cluster, each a main package using only
// the standard library:
//
//   - image writes a container image as a docker-save tar (for
//     "ctr images import"), so the cluster needs no registry;
//   - pause is the pod sandbox's process (registry.k8s.io/pause);
//   - forward serves a TCP address of this network namespace by
//     connecting to one inside another (the cluster's node namespace).
package kubetools
