package main

import (
	"context"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/cluster/kube"
)

// Where -aux kube finds its cluster and image when the environment does
// not say: the test cluster of scripts/kube-test-cluster.
const (
	defaultKubeconfig = "/var/lib/ebb-kube-test/admin.kubeconfig"
	defaultKubeImage  = "ebb.test/worker:latest"
)

// kubeProvider returns the provider of -aux kube: pods of the image
// $EBB_KUBE_WORKER_IMAGE on the cluster of $EBB_KUBECONFIG (the test
// cluster's by default, or $KUBECONFIG's), sharing the repository
// directory. The pods suit a single-node cluster on this machine, as
// scripts/kube-test-cluster runs: they share its network (hostNetwork),
// and the repository and the tasks' programs (sh, split, sort) are this
// machine's directories, mounted into them. On a real cluster, the pod
// template would mount a shared volume at the repository's path, and the
// image would hold the programs.
func kubeProvider(ctx context.Context, repoDir string) (cluster.Provider, func(context.Context) error, error) {
	kubeconfig := os.Getenv("EBB_KUBECONFIG")
	if kubeconfig == "" && os.Getenv("KUBECONFIG") == "" {
		kubeconfig = defaultKubeconfig
	}
	client, ns, err := kube.Connect(kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	if v := os.Getenv("EBB_KUBE_NAMESPACE"); v != "" {
		ns = v
	}
	image := os.Getenv("EBB_KUBE_WORKER_IMAGE")
	if image == "" {
		image = defaultKubeImage
	}
	p, err := kube.New(ctx, kube.Config{
		Client:    client,
		Namespace: ns,
		Name:      "quickstart",
		Image:     image,
		Bootstrap: bootstrap.Config{
			Command:      []string{"/usr/local/bin/ebb", "worker"},
			Repository:   repoDir,
			LeaseTimeout: time.Minute,
			Grace:        5 * time.Second,
		},
		Shapes:         []cluster.Shape{{Name: "task", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 512 << 20}, Price: 1}},
		Template:       hostPodTemplate(repoDir),
		PendingTimeout: time.Minute,
	})
	if err != nil {
		return nil, nil, err
	}
	return p, p.Close, nil
}

// hostPodTemplate is a worker pod for a cluster whose node is this
// machine: this machine's network, the image already there, and this
// machine's repository directory and programs mounted.
func hostPodTemplate(repoDir string) *corev1.PodTemplateSpec {
	k := corev1.Container{
		Name:            kube.DefaultContainer,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Env:             []corev1.EnvVar{{Name: "PATH", Value: "/usr/local/bin:/usr/bin:/bin"}},
	}
	spec := corev1.PodSpec{HostNetwork: true}
	mount := func(name, dir string, ro bool, typ corev1.HostPathType) {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &typ}}})
		k.VolumeMounts = append(k.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: dir, ReadOnly: ro})
	}
	// Not /usr as a whole: it would hide the image's /usr/local/bin/ebb.
	// /etc/alternatives holds what some programs (awk) link to.
	for _, dir := range []string{"/usr/bin", "/usr/lib", "/usr/lib64", "/bin", "/lib", "/lib64", "/etc/alternatives"} {
		if _, err := os.Stat(dir); err == nil {
			mount("host"+strings.ReplaceAll(dir, "/", "-"), dir, true, corev1.HostPathUnset)
		}
	}
	mount("repository", repoDir, false, corev1.HostPathDirectoryOrCreate)
	spec.Containers = []corev1.Container{k}
	return &corev1.PodTemplateSpec{Spec: spec}
}
