package kube

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/internal/kubetest"
	"github.com/ebbflow/ebb/internal/proctest"
	"github.com/ebbflow/ebb/pool/remote"
)

// The tests of the real cluster run their workers in the image of
// internal/kubetest, as hostNetwork pods: they share this machine's
// network namespace, so the workers and the driver reach each other on
// 127.0.0.1.

// testShapes are small, so that a few workers fit the test cluster's
// node (this machine, 2 cores).
func testShapes() []cluster.Shape {
	return []cluster.Shape{
		{Name: "small", Resources: ebb.Resources{ebb.CPU: 0.5, ebb.Mem: 256 << 20}, Price: 1},
		{Name: "large", Resources: ebb.Resources{ebb.CPU: 1, ebb.Mem: 512 << 20}, Price: 2},
	}
}

// testTemplate is the pod template of the tests: hostNetwork, the image
// already on the node, and with repo set, that directory of this machine
// mounted at the same path, as the workers' shared repository.
//
// The image holds the ebb binary alone: the tasks' programs (sh, sleep,
// awk) come from this machine's /usr, /bin and /lib, mounted read-only.
func testTemplate(repo string) *corev1.PodTemplateSpec {
	t := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		HostNetwork: true,
		Containers: []corev1.Container{{
			Name: DefaultContainer, ImagePullPolicy: corev1.PullNever,
			Env: []corev1.EnvVar{{Name: "PATH", Value: "/usr/local/bin:/usr/bin:/bin"}},
		}},
	}}
	// Not /usr as a whole: it would hide the image's /usr/local/bin/ebb.
	// /etc/alternatives holds what some programs (awk) link to.
	for _, dir := range []string{"/usr/bin", "/usr/lib", "/usr/lib64", "/bin", "/lib", "/lib64", "/etc/alternatives"} {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		name := "host" + strings.ReplaceAll(dir, "/", "-")
		t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}}})
		t.Spec.Containers[0].VolumeMounts = append(t.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: name, MountPath: dir, ReadOnly: true})
	}
	if repo != "" {
		dirType := corev1.HostPathDirectoryOrCreate
		t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: "repository", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: repo, Type: &dirType}}})
		t.Spec.Containers[0].VolumeMounts = append(t.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "repository", MountPath: repo})
	}
	return t
}

var providers atomic.Int64

// testName returns a provider name of this test process's own.
func testName() string { return fmt.Sprintf("ebbt%d-%d", os.Getpid(), providers.Add(1)) }

// clusterConfig fills in what the tests' providers share on cluster c:
// the image, the namespace, a name of their own, short timeouts.
func clusterConfig(c *kubetest.Cluster, client kubernetes.Interface, cfg Config) Config {
	if cfg.Client == nil {
		cfg.Client = client
	}
	if cfg.Namespace == "" {
		cfg.Namespace = c.Namespace
	}
	if cfg.Image == "" {
		cfg.Image = c.Image
	}
	if cfg.Name == "" {
		cfg.Name = testName()
	}
	if cfg.Bootstrap.Command == nil {
		cfg.Bootstrap.Command = []string{"/usr/local/bin/ebb", "worker"}
	}
	if cfg.Bootstrap.Grace == 0 {
		cfg.Bootstrap.Grace = 5 * time.Second
	}
	if cfg.Bootstrap.LeaseTimeout == 0 {
		cfg.Bootstrap.LeaseTimeout = time.Minute
	}
	if cfg.Bootstrap.Client.Timeout == 0 {
		cfg.Bootstrap.Client = remote.ClientConfig{Timeout: 5 * time.Second, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, WaitPoll: time.Second}
	}
	if cfg.Shapes == nil {
		cfg.Shapes = testShapes()
	}
	if cfg.Template == nil {
		cfg.Template = testTemplate(cfg.Bootstrap.Repository)
	}
	if cfg.PendingTimeout == 0 {
		cfg.PendingTimeout = time.Minute
	}
	if cfg.Logger == nil && testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return cfg
}

// newProvider returns a provider of workers on the test cluster, closed
// when t ends; then no pod or Secret of its name may be left, nor a
// worker process.
func newProvider(t testing.TB, cfg Config) *Provider {
	t.Helper()
	c := kubetest.Get(t)
	client := c.Client(t)
	cfg = clusterConfig(c, client, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		noneLeft(t, client, cfg.Namespace, cfg.Name)
	})
	return p
}

// noneLeft fails t unless no pod or Secret of the provider named name is
// left (Secrets may take the garbage collector a moment), nor a worker
// process of it on this machine.
func noneLeft(t testing.TB, client kubernetes.Interface, ns, name string) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: selector(name).String()}
	var left []string
	if !proctest.Eventually(30*time.Second, func() bool {
		left = left[:0]
		pods, err := client.CoreV1().Pods(ns).List(context.Background(), sel)
		if err != nil {
			left = append(left, err.Error())
			return false
		}
		for _, p := range pods.Items {
			left = append(left, "pod "+p.Name)
		}
		secrets, err := client.CoreV1().Secrets(ns).List(context.Background(), sel)
		if err != nil {
			left = append(left, err.Error())
			return false
		}
		for _, s := range secrets.Items {
			left = append(left, "Secret "+s.Name)
		}
		if pids := workerProcesses(name + "-"); len(pids) > 0 {
			left = append(left, fmt.Sprintf("worker processes %v", pids))
		}
		return len(left) == 0
	}) {
		t.Errorf("left by provider %s: %s", name, strings.Join(left, ", "))
	}
}

// workerProcesses returns the PIDs of the ebb worker processes on this
// machine (the pods' containers run here) whose -id begins with prefix.
func workerProcesses(prefix string) []int {
	var pids []int
	for _, p := range procs() {
		for i := 0; i+1 < len(p.args); i++ {
			if p.args[i] == "-id" && strings.HasPrefix(p.args[i+1], prefix) && p.args[1] == "worker" {
				pids = append(pids, p.pid)
				break
			}
		}
	}
	return pids
}

// A proc is a process of this machine's and its command line.
type proc struct {
	pid  int
	args []string
}

// procs lists the processes of this machine (the pods' containers run
// here too).
func procs() []proc {
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []proc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err != nil {
			continue
		}
		out = append(out, proc{pid, strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")})
	}
	return out
}

// killWorker kills the worker process of the worker id with SIGKILL,
// as the OOM killer would, and reports whether there was one.
func killWorker(id cluster.WorkerID) bool {
	pids := workerProcesses(string(id))
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return len(pids) > 0
}

// testNamespace creates a namespace of t's own, deleted when t ends.
func testNamespace(t testing.TB, client kubernetes.Interface) string {
	t.Helper()
	ns := fmt.Sprintf("ebbt%d-%d", os.Getpid(), providers.Add(1))
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", ns, err)
	}
	// Pods wait for the namespace's default ServiceAccount, which the
	// controller manager makes.
	if !proctest.Eventually(30*time.Second, func() bool {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	}) {
		t.Fatalf("namespace %s has no default ServiceAccount", ns)
	}
	t.Cleanup(func() {
		if err := client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting namespace %s: %v", ns, err)
		}
	})
	return ns
}
