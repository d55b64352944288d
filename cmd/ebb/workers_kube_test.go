package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ebbflow/ebb/internal/kubetest"
	"github.com/ebbflow/ebb/internal/proctest"
)

// kubePodTemplate is the workers' pod template on the test cluster,
// whose node is this machine: its network, the image already there, and
// its programs (the image holds ebb alone) mounted read-only: /usr/bin
// and /usr/lib, not /usr, which would hide the image's /usr/local/bin/ebb.
const kubePodTemplate = `spec:
  hostNetwork: true
  containers:
    - name: worker
      imagePullPolicy: Never
      env: [{name: PATH, value: /usr/local/bin:/usr/bin:/bin}]
      volumeMounts:
        - {name: usr-bin, mountPath: /usr/bin, readOnly: true}
        - {name: usr-lib, mountPath: /usr/lib, readOnly: true}
        - {name: bin, mountPath: /bin, readOnly: true}
        - {name: lib, mountPath: /lib, readOnly: true}
        - {name: lib64, mountPath: /lib64, readOnly: true}
        - {name: alternatives, mountPath: /etc/alternatives, readOnly: true}
  volumes:
    - {name: usr-bin, hostPath: {path: /usr/bin}}
    - {name: usr-lib, hostPath: {path: /usr/lib}}
    - {name: bin, hostPath: {path: /bin}}
    - {name: lib, hostPath: {path: /lib}}
    - {name: lib64, hostPath: {path: /lib64}}
    - {name: alternatives, hostPath: {path: /etc/alternatives}}
`

// TestRunOnKube runs a flow with a workers file of provider kube: the
// stolen tasks run in pods of the test cluster, which fetch their inputs
// from ebb and store their outputs there, and the result is right; no
// pod or Secret is left afterwards.
func TestRunOnKube(t *testing.T) {
	c := kubetest.Get(t)
	dir := t.TempDir()
	name := fmt.Sprintf("ebbrun%d", os.Getpid())
	write := func(file, content string) string {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("worker-pod.yaml", kubePodTemplate)
	wf := write("workers.yaml", fmt.Sprintf(`provider: kube
idle_timeout: 1s
latency: 2s
shapes:
  - {name: half, resources: "cpu=0.5,mem=256MiB"}
kube:
  image: %s
  kubeconfig: %s
  namespace: %s
  name: %s
  pod_template: worker-pod.yaml
  pending_timeout: 1m
`, c.Image, c.Kubeconfig, c.Namespace, name))
	var tasks strings.Builder
	for i := range 4 {
		fmt.Fprintf(&tasks, "  - {name: t%d, argv: [sh, -c, \"sleep 3; echo %d > out\"], resources: \"cpu=0.5,mem=64MiB\", outputs: [out]}\n", i, i)
	}
	// sum needs more memory than the primary has: it runs on a pod
	// however fast the primary gets through the rest, and however slowly
	// pods come up.
	tasks.WriteString("  - {name: sum, argv: [sh, -c, \"cat t* | awk '{s += $1} END {print s}' > sum\"], resources: \"cpu=0.5,mem=128MiB\", outputs: [sum], inputs: [{name: t0, task: t0, output: out}, {name: t1, task: t1, output: out}, {name: t2, task: t2, output: out}, {name: t3, task: t3, output: out}]}\n")
	flow := write("flow.yaml", "tasks:\n"+tasks.String())
	code, out, errs := runEbb(t, dir, "run", "-workers", wf, "-primary", "cpu=0.5,mem=64MiB", "-outputs", "out", flow)
	if code != 0 {
		t.Fatalf("ebb run exited %d:\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "granted alloc") {
		t.Errorf("no task ran on a pod: the stealer said:\n%s", errs)
	}
	if sum, err := os.ReadFile(filepath.Join(dir, "out", "sum", "sum")); err != nil || strings.TrimSpace(string(sum)) != "6" {
		t.Errorf("sum = %q, %v; want 6", sum, err)
	}
	client := c.Client(t)
	sel := metav1.ListOptions{LabelSelector: "ebbflow.io/provider=" + name}
	left := -1
	if !proctest.Eventually(30*time.Second, func() bool {
		pods, err1 := client.CoreV1().Pods(c.Namespace).List(context.Background(), sel)
		secrets, err2 := client.CoreV1().Secrets(c.Namespace).List(context.Background(), sel)
		if err1 != nil || err2 != nil {
			return false
		}
		left = len(pods.Items) + len(secrets.Items)
		return left == 0
	}) {
		t.Errorf("%d pods and Secrets of the run left", left)
	}
}

func TestWorkersFileKube(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"provider: kube\nshapes: [{name: a, resources: cpu=1}]\n", "without a kube section"},
		{"provider: kube\nshapes: [{name: a, resources: cpu=1}]\nkube: {namespace: x}\n", "naming the workers' image"},
		{"provider: procs\nkube: {image: x}\n", "a kube section, but provider"},
		{"provider: kube\nshapes: [{name: a, resources: cpu=1}]\nkube: {image: x, pending_timeout: soon}\n", "want a duration"},
	} {
		if _, err := parseWorkers([]byte(tc.file), "w.yaml"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseWorkers(%q) = %v, want an error saying %q", tc.file, err, tc.want)
		}
	}
	w, err := parseWorkers([]byte("provider: kube\nshapes: [{name: a, resources: cpu=1}]\nkube: {image: x, pod_template: pod.yaml, kubeconfig: /k}\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Kube.resolve("/etc/ebb"); err != nil || w.Kube.PodTemplate != "/etc/ebb/pod.yaml" || w.Kube.Kubeconfig != "/k" {
		t.Errorf("resolved %+v, %v; want the template beside the file, the absolute kubeconfig as it is", w.Kube, err)
	}
	path := filepath.Join(t.TempDir(), "pod.yaml")
	os.WriteFile(path, []byte("apiVersion: v1\nkind: Pod\nmetadata: {labels: {team: a}}\nspec:\n  nodeSelector: {pool: batch}\n  containers: [{name: worker, imagePullPolicy: Always}]\n"), 0o644)
	tmpl, err := readPodTemplate(path)
	if err != nil || tmpl.Labels["team"] != "a" || tmpl.Spec.NodeSelector["pool"] != "batch" || tmpl.Spec.Containers[0].ImagePullPolicy != "Always" {
		t.Errorf("readPodTemplate = %+v, %v", tmpl, err)
	}
	os.WriteFile(path, []byte("kind: Deployment\n"), 0o644)
	if _, err := readPodTemplate(path); err == nil {
		t.Error("readPodTemplate took a Deployment")
	}
}
