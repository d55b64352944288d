package kube_test

import (
	"context"
	"log"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/cluster/kube"
)

// An elastic cluster of pods: Allocate creates pods that run `ebb worker`
// from the image, which announce themselves to this driver through the
// Service "ebb-driver" that selects its pod; Run deletes them when they
// idle and when it returns. The driver runs in the cluster, with its
// ServiceAccount bound to kube.Role (deploy/driver.yaml).
func ExampleNew() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	client, ns, err := kube.Connect("") // in a pod: its ServiceAccount and namespace
	if err != nil {
		log.Fatal(err)
	}
	p, err := kube.New(ctx, kube.Config{
		Client:    client,
		Namespace: ns,
		Name:      "genomics-run-17",
		Image:     "registry.example.org/ebb:v1",
		Bootstrap: bootstrap.Config{
			Command:      []string{"/usr/local/bin/ebb", "worker"},
			Listen:       ":7070",
			Advertise:    "ebb-driver",
			WorkerListen: "$(EBB_POD_IP):0",
		},
		Shapes: []cluster.Shape{
			{Name: "c8", Resources: ebb.Resources{ebb.CPU: 8, ebb.Mem: 30 << 30}, Price: 8},
			{Name: "c32", Resources: ebb.Resources{ebb.CPU: 32, ebb.Mem: 120 << 30}, Price: 32},
		},
		Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"pool": "batch"},
			Tolerations:  []corev1.Toleration{{Key: "batch", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		}},
		PendingTimeout: 5 * time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())
	c, err := cluster.NewElastic(cluster.ElasticConfig{Provider: p})
	if err != nil {
		log.Fatal(err)
	}
	go c.Run(ctx)
	a, err := c.Allocate(ctx, ebb.Requirements{Min: ebb.Resources{ebb.CPU: 4}}, ebb.Labels{"run": "r17"})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Free(ctx)
	// ... Put execs in a, as in any pool.
}
