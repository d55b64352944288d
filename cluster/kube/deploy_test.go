package kube

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/ebbflow/ebb/internal/kubetest"
	"github.com/ebbflow/ebb/internal/proctest"
)

// deployObjects decodes deploy/driver.yaml.
func deployObjects(t *testing.T) []runtime.Object {
	t.Helper()
	b, err := os.ReadFile("deploy/driver.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("deploy/driver.yaml: %v", err)
		}
		objs = append(objs, obj)
	}
	return objs
}

// TestDeployManifests checks deploy/driver.yaml: its workers file and
// pod template parse, the Job's driver uses the ServiceAccount that the
// RoleBinding binds to the Role of role.yaml, and the Service selects
// the driver's pod.
func TestDeployManifests(t *testing.T) {
	var (
		sa   *corev1.ServiceAccount
		rb   *rbacv1.RoleBinding
		svc  *corev1.Service
		cm   *corev1.ConfigMap
		job  *batchv1.Job
		role rbacv1.Role
	)
	for _, obj := range deployObjects(t) {
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			sa = o
		case *rbacv1.RoleBinding:
			rb = o
		case *corev1.Service:
			svc = o
		case *corev1.ConfigMap:
			cm = o
		case *batchv1.Job:
			job = o
		default:
			t.Errorf("unexpected %T", obj)
		}
	}
	if sa == nil || rb == nil || svc == nil || cm == nil || job == nil {
		t.Fatalf("want a ServiceAccount, RoleBinding, Service, ConfigMap and Job")
	}
	if err := yaml.Unmarshal(Role, &role); err != nil {
		t.Fatal(err)
	}
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name || len(rb.Subjects) != 1 || rb.Subjects[0].Name != sa.Name {
		t.Errorf("RoleBinding %+v does not bind Role %s to ServiceAccount %s", rb, role.Name, sa.Name)
	}
	pod := job.Spec.Template
	if pod.Spec.ServiceAccountName != sa.Name {
		t.Errorf("the Job runs as %q, want %s", pod.Spec.ServiceAccountName, sa.Name)
	}
	for k, v := range svc.Spec.Selector {
		if pod.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the driver's pod lacks", k, v)
		}
	}
	var tmpl corev1.PodTemplateSpec
	if err := yaml.UnmarshalStrict([]byte(cm.Data["worker-pod.yaml"]), &tmpl); err != nil {
		t.Errorf("worker-pod.yaml: %v", err)
	}
	for _, key := range []string{"workers.yaml", "flow.yaml"} {
		var v map[string]any
		if err := yaml.Unmarshal([]byte(cm.Data[key]), &v); err != nil || len(v) == 0 {
			t.Errorf("%s: %v", key, err)
		}
	}
}

// TestDeployDriver applies deploy/driver.yaml and role.yaml in a
// namespace of its own, with what this test cluster needs changed (the
// image, hostNetwork, this machine's programs, the API server's address
// on its loopback, a flow whose tasks overflow the primary): the Job's
// ebb run, using its ServiceAccount (in-cluster config) under the Role,
// launches worker pods, completes, and leaves none.
func TestDeployDriver(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	c := kubetest.Get(t)
	admin := c.Client(t)
	ns := testNamespace(t, admin)
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(Role, &role); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, &role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	api, err := url.Parse(c.Config().Host)
	if err != nil {
		t.Fatal(err)
	}
	tools := testTemplate("")
	var job *batchv1.Job
	for _, obj := range deployObjects(t) {
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			_, err = admin.CoreV1().ServiceAccounts(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			_, err = admin.RbacV1().RoleBindings(ns).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Service:
			_, err = admin.CoreV1().Services(ns).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.ConfigMap:
			// The workers: hostNetwork pods of the test image, which
			// reach the driver on this machine's loopback.
			tmpl, _ := yaml.Marshal(tools)
			o.Data["worker-pod.yaml"] = string(tmpl)
			o.Data["workers.yaml"] = "provider: kube\nmax_workers: 2\nidle_timeout: 2s\nlatency: 2s\n" +
				"shapes:\n  - {name: half, resources: \"cpu=0.5,mem=256MiB\"}\n" +
				"kube: {image: " + c.Image + ", pod_template: worker-pod.yaml, pending_timeout: 1m}\n"
			o.Data["flow.yaml"] = "name: hello\ntasks:\n" +
				"  - {name: a, argv: [sh, -c, \"sleep 3; echo a > out\"], outputs: [out], resources: \"cpu=0.5,mem=64MiB\"}\n" +
				"  - {name: b, argv: [sh, -c, \"sleep 3; echo b > out\"], outputs: [out], resources: \"cpu=0.5,mem=64MiB\"}\n" +
				"  - {name: c, argv: [sh, -c, \"sleep 3; echo c > out\"], outputs: [out], resources: \"cpu=0.5,mem=64MiB\"}\n"
			_, err = admin.CoreV1().ConfigMaps(ns).Create(ctx, o, metav1.CreateOptions{})
		case *batchv1.Job:
			job = o
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	spec := &job.Spec.Template.Spec
	spec.HostNetwork = true
	spec.Volumes = append(spec.Volumes, tools.Spec.Volumes...)
	d := &spec.Containers[0]
	d.Image, d.ImagePullPolicy = c.Image, corev1.PullNever
	d.VolumeMounts = append(d.VolumeMounts, tools.Spec.Containers[0].VolumeMounts...)
	d.Env = append(d.Env, tools.Spec.Containers[0].Env...)
	// The API server's Service has no proxy here: the driver reaches it
	// where this machine does.
	d.Env = append(d.Env, corev1.EnvVar{Name: "KUBERNETES_SERVICE_HOST", Value: api.Hostname()}, corev1.EnvVar{Name: "KUBERNETES_SERVICE_PORT", Value: api.Port()})
	for i, a := range d.Command {
		if a == "-primary" {
			d.Command[i+1] = "cpu=0.5,mem=256MiB"
		}
	}
	d.Resources = corev1.ResourceRequirements{}
	if _, err := admin.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var sawWorkers bool
	var done *batchv1.Job
	if !proctest.Eventually(3*time.Minute, func() bool {
		if pods, err := admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelProvider}); err == nil && len(pods.Items) > 0 {
			sawWorkers = true
		}
		j, err := admin.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		done = j
		return err == nil && (j.Status.Succeeded > 0 || j.Status.Failed > 0)
	}) {
		t.Fatalf("the driver's Job did not finish: %+v", done.Status)
	}
	logs := driverLogs(ctx, admin, ns, job.Name)
	if done.Status.Succeeded == 0 {
		t.Fatalf("the driver's Job failed; its log:\n%s", logs)
	}
	if !sawWorkers || !strings.Contains(logs, "granted alloc") {
		t.Errorf("no worker pod ran a task (pods seen: %v); the driver's log:\n%s", sawWorkers, logs)
	}
	noneLeft(t, admin, ns, DefaultName)
	background := metav1.DeletePropagationBackground
	admin.BatchV1().Jobs(ns).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &background})
}

// driverLogs returns the log of the Job's pod.
func driverLogs(ctx context.Context, admin kubernetes.Interface, ns, job string) string {
	pods, err := admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil || len(pods.Items) == 0 {
		return "(no pod of the Job)"
	}
	b, err := admin.CoreV1().Pods(ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return string(b)
}
