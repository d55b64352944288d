package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/cluster/kube"
)

// kubeFile is the kube section of a workers file (see package
// cluster/kube):
//
//	kube:
//	  image: registry.example.org/ebb:v1   # the workers' image, holding ebb at worker[0]
//	  kubeconfig: /path/to/kubeconfig      # default $KUBECONFIG, ~/.kube/config, or in a pod its ServiceAccount
//	  namespace: batch                     # default the kubeconfig's, the pod's, or "default"
//	  name: ebb                            # labels this run's pods (ebbflow.io/provider); default "ebb-HASH", HASH of the run's State
//	  pod_template: worker-pod.yaml        # a Pod or PodTemplateSpec the pods are made from
//	  pending_timeout: 10m
//	  announce_timeout: 2m
//	  termination_grace: 15s
type kubeFile struct {
	Image            string   `json:"image"`
	Kubeconfig       string   `json:"kubeconfig"`
	Namespace        string   `json:"namespace"`
	Name             string   `json:"name"`
	PodTemplate      string   `json:"pod_template"`
	PendingTimeout   duration `json:"pending_timeout"`
	AnnounceTimeout  duration `json:"announce_timeout"`
	TerminationGrace duration `json:"termination_grace"`
}

// defaultKubeWorker is the worker's command in the image of
// cluster/kube/deploy, the default of a kube workers file.
var defaultKubeWorker = []string{"/usr/local/bin/ebb", "worker"}

// resolve makes the kube section's paths relative to the workers file's
// directory dir.
func (k *kubeFile) resolve(dir string) error {
	for _, p := range []*string{&k.Kubeconfig, &k.PodTemplate} {
		if *p != "" && !filepath.IsAbs(*p) {
			abs, err := filepath.Abs(filepath.Join(dir, *p))
			if err != nil {
				return err
			}
			*p = abs
		}
	}
	return nil
}

// readPodTemplate reads a pod template file: a Pod, or a
// PodTemplateSpec (its metadata and spec).
func readPodTemplate(path string) (*corev1.PodTemplateSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("workers file: kube.pod_template: %w", err)
	}
	var pod corev1.Pod
	if err := yaml.Unmarshal(b, &pod); err != nil {
		return nil, fmt.Errorf("workers file: kube.pod_template %s: %v: %w", path, err, ebb.ErrInvalid)
	}
	if pod.Kind != "" && pod.Kind != "Pod" && pod.Kind != "PodTemplate" {
		return nil, fmt.Errorf("workers file: kube.pod_template %s: kind %s: want a Pod or a PodTemplateSpec: %w", path, pod.Kind, ebb.ErrInvalid)
	}
	return &corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}, nil
}

// startKube makes the kube provider of a workers file.
func (w *workersFile) startKube(ctx context.Context, shapes []cluster.Shape, boot bootstrap.Config, defaultName string, log *slog.Logger) (cluster.Provider, func(context.Context) error, error) {
	k := w.Kube
	name := k.Name
	if name == "" {
		name = "ebb-" + defaultName
	}
	client, ns, err := kube.Connect(k.Kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	if k.Namespace != "" {
		ns = k.Namespace
	}
	var tmpl *corev1.PodTemplateSpec
	if k.PodTemplate != "" {
		if tmpl, err = readPodTemplate(k.PodTemplate); err != nil {
			return nil, nil, err
		}
	}
	if len(w.Worker) == 0 {
		boot.Command = defaultKubeWorker
	}
	p, err := kube.New(ctx, kube.Config{
		Client: client, Namespace: ns, Name: name, Image: k.Image, Bootstrap: boot, Shapes: shapes, Template: tmpl,
		PendingTimeout: time.Duration(k.PendingTimeout), AnnounceTimeout: time.Duration(k.AnnounceTimeout),
		TerminationGrace: time.Duration(k.TerminationGrace), Logger: log,
	})
	if err != nil {
		return nil, nil, err
	}
	return p, p.Close, nil
}
