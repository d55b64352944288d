package kube

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
)

func validConfig() Config {
	return Config{
		Client:    fake.NewClientset(),
		Image:     "example.org/ebb:1",
		Bootstrap: bootstrap.Config{Command: []string{"/usr/local/bin/ebb", "worker"}, Grace: 10 * time.Second},
		Shapes: []cluster.Shape{
			{Name: "small", Resources: ebb.Resources{ebb.CPU: 1.5, ebb.Mem: 2 << 30, ebb.Disk: 10 << 30}, Price: 1},
			{Name: "gpu", Resources: ebb.Resources{ebb.CPU: 4, ebb.Mem: 16 << 30, ebb.GPU: 1}, Price: 5},
		},
	}
}

// TestPod checks the pod a worker runs in: the template's additions are
// kept, the worker's container gets the image, the command, the shape as
// requests and limits, and its token from the Secret alone.
func TestPod(t *testing.T) {
	cfg := validConfig()
	never := int64(1000)
	cfg.Template = &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "genomics"}, Annotations: map[string]string{"note": "x"}},
		Spec: corev1.PodSpec{
			NodeSelector:       map[string]string{"pool": "batch"},
			Tolerations:        []corev1.Toleration{{Key: "batch", Operator: corev1.TolerationOpExists}},
			ServiceAccountName: "ebb-worker",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "registry"}},
			SecurityContext:    &corev1.PodSecurityContext{RunAsUser: &never},
			Volumes:            []corev1.Volume{{Name: "repo", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "ebb-repo"}}}},
			Containers: []corev1.Container{{
				Name:            "worker",
				ImagePullPolicy: corev1.PullIfNotPresent,
				VolumeMounts:    []corev1.VolumeMount{{Name: "repo", MountPath: "/repo"}},
				Env:             []corev1.EnvVar{{Name: "TZ", Value: "UTC"}, {Name: "EBB_TOKEN", Value: "leaked"}},
			}},
		},
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	argv := []string{"/usr/local/bin/ebb", "worker", "-id", "ebb-1-1"}
	pod := cfg.pod("ebb-1-1", cfg.Shapes[0], ebb.Labels{"run": "r1", "odd": "a b/c"}, argv)
	if pod.Name != "ebb-1-1" || pod.Namespace != "default" {
		t.Errorf("pod %s/%s, want default/ebb-1-1", pod.Namespace, pod.Name)
	}
	for k, v := range map[string]string{"team": "genomics", LabelProvider: "ebb", LabelWorker: "ebb-1-1", LabelShape: "small", LabelManagedBy: "ebb"} {
		if pod.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, pod.Labels[k], v)
		}
	}
	if got := podLabels(pod); got["run"] != "r1" || got["odd"] != "a b/c" || pod.Annotations["note"] != "x" {
		t.Errorf("labels from the annotations %v, note %q", got, pod.Annotations["note"])
	}
	s := pod.Spec
	if s.NodeSelector["pool"] != "batch" || len(s.Tolerations) != 1 || s.ServiceAccountName != "ebb-worker" || len(s.ImagePullSecrets) != 1 || len(s.Volumes) != 1 || *s.SecurityContext.RunAsUser != 1000 {
		t.Errorf("the template's spec was not kept: %+v", s)
	}
	if s.RestartPolicy != corev1.RestartPolicyNever || *s.TerminationGracePeriodSeconds != 15 {
		t.Errorf("restartPolicy %s, grace %d; want Never, 15 (Grace + 5 s)", s.RestartPolicy, *s.TerminationGracePeriodSeconds)
	}
	if len(s.Containers) != 1 {
		t.Fatalf("%d containers, want the template's one", len(s.Containers))
	}
	c := s.Containers[0]
	if c.Image != "example.org/ebb:1" || !slices.Equal(c.Command, argv) || c.ImagePullPolicy != corev1.PullIfNotPresent || len(c.VolumeMounts) != 1 {
		t.Errorf("container %+v", c)
	}
	want := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("1500m"),
		corev1.ResourceMemory:           resource.MustParse("2Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("10Gi"),
	}
	for _, got := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		if len(got) != len(want) {
			t.Errorf("resources %v, want %v", got, want)
		}
		for name, q := range want {
			if g := got[name]; g.Cmp(q) != 0 {
				t.Errorf("resource %s = %s, want %s", name, g.String(), q.String())
			}
		}
	}
	var token []corev1.EnvVar
	for _, e := range c.Env {
		if e.Name == "EBB_TOKEN" {
			token = append(token, e)
		}
	}
	if len(token) != 1 || token[0].Value != "" || token[0].ValueFrom.SecretKeyRef.Name != "ebb-1-1" || token[0].ValueFrom.SecretKeyRef.Key != SecretToken {
		t.Errorf("EBB_TOKEN %+v, want one, from the Secret ebb-1-1's key %q", token, SecretToken)
	}
	gpu := cfg.pod("ebb-1-2", cfg.Shapes[1], nil, argv).Spec.Containers[0].Resources.Limits[DefaultGPUResource]
	if gpu.Value() != 1 {
		t.Errorf("gpu limit %v, want 1 %s", gpu, DefaultGPUResource)
	}
	// The template itself is not changed.
	if len(cfg.Template.Spec.Containers[0].Command) != 0 || cfg.Template.Labels[LabelProvider] != "" {
		t.Error("pod changed the template")
	}
	sec := cfg.secret("ebb-1-1", "small", "tok")
	if string(sec.Data[SecretToken]) != "tok" || sec.Labels[LabelProvider] != "ebb" || sec.Labels[LabelWorker] != "ebb-1-1" {
		t.Errorf("secret %+v", sec)
	}
}

func TestConfigRefused(t *testing.T) {
	for name, change := range map[string]func(*Config){
		"Client":            func(c *Config) { c.Client = nil },
		"Image":             func(c *Config) { c.Image = "" },
		"Bootstrap.Command": func(c *Config) { c.Bootstrap.Command = nil },
		"Name":              func(c *Config) { c.Name = "Ebb_1" },
		"Namespace":         func(c *Config) { c.Namespace = "a/b" },
		"Shapes":            func(c *Config) { c.Shapes = nil },
		"resource":          func(c *Config) { c.Shapes[0].Resources["fpga"] = 1 },
		"gpu":               func(c *Config) { c.Shapes[1].Resources[ebb.GPU] = 0.5 },
		"Shapes name":       func(c *Config) { c.Shapes[0].Name = "a b" },
		"PendingTimeout":    func(c *Config) { c.PendingTimeout = -time.Second },
	} {
		cfg := validConfig()
		change(&cfg)
		_, err := cfg.withDefaults()
		if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), strings.Fields(name)[0]) {
			t.Errorf("%s: withDefaults = %v, want ErrInvalid naming it", name, err)
		}
	}
	if _, err := validConfig().withDefaults(); err != nil {
		t.Errorf("a valid config: %v", err)
	}
}

func TestDescribePod(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		pod     corev1.Pod
		deleted bool
		want    string
	}{
		{corev1.Pod{}, false, "Pending"},
		{corev1.Pod{}, true, "deleted"},
		{corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}}, false, "being deleted"},
		{corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available: 1 Insufficient cpu."}}}}, false,
			"Pending (Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.)"},
		{corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "low on memory"}}, false, "Failed (Evicted: low on memory)"},
		{corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "worker", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}}}}, false,
			"Failed (worker exited 137: OOMKilled)"},
	} {
		if got := describePod(&tc.pod, tc.deleted); got != tc.want {
			t.Errorf("describePod(%+v) = %q, want %q", tc.pod.Status, got, tc.want)
		}
	}
	never := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "no image"}}}}}}
	if got := neverRuns(never); got != "ErrImageNeverPull: no image" {
		t.Errorf("neverRuns = %q", got)
	}
}
