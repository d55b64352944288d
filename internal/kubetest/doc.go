// Package kubetest gives tests the Kubernetes test cluster that
// scripts/kube-test-cluster runs on this machine: its admin kubeconfig, a
// rest.Config and a clientset for it, the worker image holding the ebb
// binary of the checkout, and the namespace to run pods in.
//
// Get skips the test when there is no cluster, with a message saying how
// to start one, and fails it instead when EBB_KUBE_REQUIRED=1 (as CI sets
// it). It reads the kubeconfig named by EBB_KUBECONFIG, or the script's
// default path, and asks the API server whether it is ready before it
// hands the cluster out.
//
// Pods that must reach a listener on this machine's 127.0.0.1 (a driver)
// run with hostNetwork: true: in the test cluster their network namespace
// is this machine's (see the script's header). Pods use the worker image
// with imagePullPolicy: Never: there is no registry.
package kubetest
