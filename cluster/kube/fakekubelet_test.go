package kube

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// newFakeClient returns a fake clientset whose SelfSubjectAccessReviews
// allow everything (the fake answers none by itself).
func newFakeClient() *fake.Clientset {
	c := fake.NewClientset()
	c.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authv1.SelfSubjectAccessReview).DeepCopy()
		r.Status.Allowed = true
		return true, r, nil
	})
	return c
}

// A fakeKubelet runs the pods of a fake clientset as real processes, as
// a kubelet would: each pod's worker container command, with EBB_TOKEN
// taken from the Secret it names. It marks a pod Running once its
// process started, and Failed once it exited; it kills the process of a
// pod that is deleted, or that a test marks Failed (as an eviction
// does).
type fakeKubelet struct {
	t      *testing.T
	client *fake.Clientset
	ns     string

	mu    sync.Mutex
	procs map[string]*exec.Cmd
	wg    sync.WaitGroup
}

func startFakeKubelet(t *testing.T, client *fake.Clientset, ns string) *fakeKubelet {
	k := &fakeKubelet{t: t, client: client, ns: ns, procs: make(map[string]*exec.Cmd)}
	w, err := client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			switch {
			case ev.Type == watch.Added:
				k.run(pod)
			case ev.Type == watch.Deleted, ev.Type == watch.Modified && pod.Status.Phase == corev1.PodFailed:
				k.kill(pod.Name)
			}
		}
	}()
	t.Cleanup(func() {
		w.Stop()
		<-done
		k.mu.Lock()
		for name := range k.procs {
			k.killLocked(name)
		}
		k.mu.Unlock()
		k.wg.Wait()
	})
	return k
}

func (k *fakeKubelet) run(pod *corev1.Pod) {
	ctx := context.Background()
	c := pod.Spec.Containers[0]
	env := os.Environ()
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			sec, err := k.client.CoreV1().Secrets(k.ns).Get(ctx, e.ValueFrom.SecretKeyRef.Name, metav1.GetOptions{})
			if err != nil {
				k.t.Errorf("fake kubelet: pod %s: secret: %v", pod.Name, err)
				return
			}
			env = append(env, e.Name+"="+string(sec.Data[e.ValueFrom.SecretKeyRef.Key]))
		} else {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	cmd := exec.Command(c.Command[0], c.Command[1:]...)
	cmd.Env = env
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		k.setPhase(pod.Name, corev1.PodFailed, err.Error())
		return
	}
	k.mu.Lock()
	k.procs[pod.Name] = cmd
	k.mu.Unlock()
	k.setPhase(pod.Name, corev1.PodRunning, "")
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		err := cmd.Wait()
		k.mu.Lock()
		mine := k.procs[pod.Name] == cmd
		delete(k.procs, pod.Name)
		k.mu.Unlock()
		if mine {
			phase := corev1.PodSucceeded
			if err != nil {
				phase = corev1.PodFailed
			}
			k.setPhase(pod.Name, phase, "")
		}
	}()
}

// setPhase updates a pod's status, if it still exists.
func (k *fakeKubelet) setPhase(name string, phase corev1.PodPhase, msg string) {
	ctx := context.Background()
	pod, err := k.client.CoreV1().Pods(k.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return
	}
	pod.Status.Phase, pod.Status.Message = phase, msg
	k.client.CoreV1().Pods(k.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
}

func (k *fakeKubelet) kill(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.killLocked(name)
}

func (k *fakeKubelet) killLocked(name string) {
	if cmd := k.procs[name]; cmd != nil {
		cmd.Process.Signal(syscall.SIGTERM)
		delete(k.procs, name)
	}
}

// running reports how many worker processes run.
func (k *fakeKubelet) running() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.procs)
}
