package kube

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/internal/enginebench"
	"github.com/ebbflow/ebb/internal/kubetest"
	"github.com/ebbflow/ebb/pool/remote"
)

// BenchmarkSteal measures, per iteration, on the test cluster
// (scripts/kube-test-cluster):
//
//   - bare-pod-ms: a bare pod's create to Running, as the informer sees
//     it: what Kubernetes itself takes, without ebb;
//
//   - bare-launch-ms: Provider.Launch alone, create to the worker
//     answering;
//
//   - steal-ms: demand appearing to the stolen task starting on a new
//     pod (enginebench), and overhead-ms, that minus bare-pod-ms: what
//     ebb adds to Kubernetes;
//
//   - idle-gone-ms: the stolen task done to the provider listing no pod
//     (IdleTimeout 1 s twice: the stealer's alloc, the Elastic's worker).
//
//     go test -run XXX -bench Steal -benchtime 1x -count 5 ./cluster/kube/
func BenchmarkSteal(b *testing.B) {
	c := kubetest.Get(b)
	client := c.Client(b)
	shape := cluster.Shape{Name: "task", Resources: ebb.Resources{ebb.CPU: 0.5, ebb.Mem: 256 << 20}, Price: 1}
	var bare, launch, steal, gone time.Duration
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		d, err := barePod(ctx, client, c)
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		dir := b.TempDir()
		cfg := clusterConfig(c, client, Config{
			Shapes:    []cluster.Shape{shape},
			Bootstrap: bootstrap.Config{Repository: enginebench.RepositoryDir(dir), Grace: 5 * time.Second},
		})
		cfg.Bootstrap.Client = remote.ClientConfig{}
		p, err := New(ctx, cfg)
		if err != nil {
			cancel()
			b.Fatal(err)
		}
		f, err := enginebench.Measure(ctx, enginebench.Config{Provider: p, Shape: shape, Task: ebb.Resources{ebb.CPU: 0.5, ebb.Mem: 64 << 20}, Dir: dir, Hold: 10 * time.Second})
		p.Close(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("bare pod %v; %v; steal minus bare pod %v", d.Round(time.Millisecond), f, (f.FirstSteal - d).Round(time.Millisecond))
		bare += d
		launch += f.BareLaunch
		steal += f.FirstSteal
		gone += f.IdleToGone
	}
	ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
	b.ReportMetric(ms(bare), "bare-pod-ms")
	b.ReportMetric(ms(launch), "bare-launch-ms")
	b.ReportMetric(ms(steal), "steal-ms")
	b.ReportMetric(ms(steal-bare), "overhead-ms")
	b.ReportMetric(ms(gone), "idle-gone-ms")
	b.ReportMetric(0, "ns/op")
}

// barePod creates a pod of the worker image that only waits, and returns
// the time from its create call to its Running, as a watch sees it; then
// deletes it.
func barePod(ctx context.Context, client kubernetes.Interface, c *kubetest.Cluster) (time.Duration, error) {
	name := fmt.Sprintf("%s-bare", testName())
	pods := client.CoreV1().Pods(c.Namespace)
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	t := testTemplate("")
	t.Spec.Containers[0].Image = c.Image
	// ebb worker, alone: it serves until its pod is deleted.
	t.Spec.Containers[0].Command = []string{"/usr/local/bin/ebb", "worker", "-id", name, "-lease-timeout", "1m"}
	t.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EBB_TOKEN", Value: remote.NewToken()}}
	zero := int64(0)
	t.Spec.TerminationGracePeriodSeconds = &zero
	t.Spec.RestartPolicy = corev1.RestartPolicyNever
	start := time.Now()
	if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: t.Spec}, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	defer func() {
		one := int64(1)
		pods.Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{GracePeriodSeconds: &one})
	}()
	for ev := range w.ResultChan() {
		if pod, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted && pod.Status.Phase == corev1.PodRunning {
			return time.Since(start), nil
		}
	}
	return 0, fmt.Errorf("bare pod %s: the watch ended before it ran: %w", name, ctx.Err())
}
