// Package kube is a cluster.Provider whose workers are Kubernetes pods:
// each Launch creates a pod that runs `ebb worker` from an image the user
// names, which announces itself to the driver (package bootstrap) once it
// serves. Kubernetes does the placing; the provider creates, watches and
// deletes.
//
//	Launch(shape, labels)
//	   │ bootstrap.Expect: a fresh token, the worker's argv
//	   ├─ Secret ID {token}                   labels ebbflow.io/provider=Name, worker=ID, shape
//	   ├─ Pod ID from Config.Template: container "worker", Image, command = argv,
//	   │     requests = limits = the shape, env EBB_TOKEN from the Secret, restartPolicy Never
//	   │                         ▼ Pending ── past PendingTimeout (unschedulable, quota): deleted, ErrUnavailable
//	   │                         ▼ Running: ebb worker serves, then announces
//	   │◀── POST /v1/workers {url, pin, resources} ── bootstrap
//	   ├─ Secret ID += {url, pin}: how a resumed driver reconnects
//	   ▼
//	remote.Client (pinned TLS, the worker's token) ── the Worker's Pool
//	   ·
//	informer on the pods of Name ── Failed, Succeeded, evicted, deleted: the
//	                                 worker is lost: calls on its allocs fail ErrExpired
//	Terminate ── delete the pod, grace TerminationGrace: SIGTERM, the worker drains and exits
//	Close ── delete every pod of this provider, wait until they are gone
//
// Words, as this package uses them:
//
//   - A shape is a pod size: the worker container requests, and is
//     limited to, exactly the shape's resources (cpu, mem as memory, disk
//     as ephemeral-storage, gpu as Config.GPUResource), so the pod is of
//     the Guaranteed QoS class when it asks cpu and mem.
//   - A worker's ID is its pod's name, and its Secret's: Config.Name, the
//     provider's random nonce and a sequence number ("ebb-1f2e3d4c-7").
//     Every pod and Secret of the provider is labelled
//     ebbflow.io/provider=Name; the provider watches exactly those (a
//     label-selected informer: no polling).
//   - The worker's token reaches its pod through its Secret: the
//     container's EBB_TOKEN comes from it (secretKeyRef), so the token is
//     in neither the pod spec nor the command line. The Secret is the
//     pod's (an owner reference): should the driver die, the garbage
//     collector deletes it with the pod.
//   - A pod is pending until it runs. One pending longer than
//     PendingTimeout (no node has room, a quota, an image still pulling)
//     is deleted and its Launch fails with ebb.ErrUnavailable, which an
//     Elastic answers by backing the shape off; a ResourceQuota that
//     refuses the pod fails it at once the same way. A pod that can
//     never run (its image may not be pulled, the API server refuses its
//     spec) fails with ebb.ErrResources, and the Elastic stops launching
//     its shape.
//   - A worker is up from its announcement until its pod ends or is
//     deleted. A pod that fails (its worker exited or was killed, the pod
//     was evicted) or is deleted from outside takes the worker with it:
//     the informer sees it at once, and the worker's client fails every
//     call on its allocs with ebb.ErrExpired, so their holders run the
//     work elsewhere.
//   - Pods of an earlier driver with the same Name are adopted: Workers
//     lists the running ones it can reconnect to (their Secret holds the
//     worker's token and the URL and pin it announced), so that an
//     Elastic over the new provider re-attaches to their allocs, and
//     terminates those it does not need. A worker whose driver died stops
//     itself anyway, once nobody renewed a lease of it for the
//     bootstrap's LeaseTimeout; its pod then ends as Succeeded. Workers
//     deletes the earlier driver's pods that ended, or that do not run
//     yet (their workers could announce themselves only to the driver
//     that is gone), and the Secrets of the Name that belong to no pod
//     (their driver died between creating the two).
//
// The provider needs the Role in Role (deploy/role.yaml) in its
// namespace, and nothing cluster-wide; New checks it with
// SelfSubjectAccessReviews and names what is missing. A driver running in
// a pod connects with its ServiceAccount (see Connect); deploy/ holds a
// whole deployment: README.md there says how.
//
// A Provider runs the informer's goroutines and the bootstrap's HTTP
// server from New until Close. A Launch waiting for its worker runs one
// more, which ends with it.
//
// The tests run workers as real pods on the cluster that
// scripts/kube-test-cluster brings up; they skip when no cluster
// answers, unless EBB_KUBE_REQUIRED=1 (as in CI) makes that a failure.
// The unit tests use client-go's fake clientset only for what a real
// cluster does not cheaply produce: an eviction, an API server that
// fails a call.
package kube
