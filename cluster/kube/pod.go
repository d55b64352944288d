package kube

import (
	"encoding/json"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
)

// The labels and annotations the provider puts on its pods and Secrets.
const (
	// LabelProvider holds Config.Name: the provider's pods and Secrets
	// are those with it.
	LabelProvider = "ebbflow.io/provider"
	// LabelWorker holds the worker's ID, the pod's and its Secret's name.
	LabelWorker = "ebbflow.io/worker"
	// LabelShape holds the name of the worker's shape.
	LabelShape = "ebbflow.io/shape"
	// LabelManagedBy is app.kubernetes.io/managed-by, "ebb".
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// AnnotationLabels holds the labels of the Launch, as JSON: they
	// may hold what label values cannot.
	AnnotationLabels = "ebbflow.io/labels"
)

// The keys of a worker's Secret: the worker's token, which it serves
// and announces with (its EBB_TOKEN), and once it announced itself, the
// URL and certificate pin it serves at, which a resumed driver
// reconnects with.
const (
	SecretToken = "token"
	SecretURL   = "url"
	SecretPin   = "pin"
)

// EnvPodIP is the worker container's variable holding its pod's IP
// address: Bootstrap.WorkerListen "$(EBB_POD_IP):0" makes each worker
// listen, and announce itself, at its pod's address (Kubernetes expands
// $(VAR) in a container's command).
const EnvPodIP = "EBB_POD_IP"

// selector selects the pods and Secrets of the provider named name.
func selector(name string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{LabelProvider: name})
}

// objectLabels are the labels of a worker's pod and Secret.
func (c Config) objectLabels(id cluster.WorkerID, shape string) map[string]string {
	return map[string]string{
		LabelManagedBy: "ebb",
		LabelProvider:  c.Name,
		LabelWorker:    string(id),
		LabelShape:     shape,
	}
}

// secret returns the Secret that carries the worker's token.
func (c Config) secret(id cluster.WorkerID, shape, token string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: string(id), Namespace: c.Namespace, Labels: c.objectLabels(id, shape)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{SecretToken: []byte(token)},
	}
}

// pod returns the pod of the worker named id: the template with the
// worker's container, which runs argv and takes its token from the
// worker's Secret.
func (c Config) pod(id cluster.WorkerID, shape cluster.Shape, lbls ebb.Labels, argv []string) *corev1.Pod {
	var t corev1.PodTemplateSpec
	if c.Template != nil {
		t = *c.Template.DeepCopy()
	}
	pod := &corev1.Pod{ObjectMeta: t.ObjectMeta, Spec: t.Spec}
	pod.Name, pod.GenerateName, pod.Namespace = string(id), "", c.Namespace
	pod.Labels = maps.Clone(pod.Labels)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	maps.Copy(pod.Labels, c.objectLabels(id, shape.Name))
	if len(lbls) > 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		b, _ := json.Marshal(map[string]string(lbls))
		pod.Annotations[AnnotationLabels] = string(b)
	}
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	grace := int64(c.TerminationGrace.Seconds())
	pod.Spec.TerminationGracePeriodSeconds = &grace

	i := slices.IndexFunc(pod.Spec.Containers, func(k corev1.Container) bool { return k.Name == c.Container })
	if i < 0 {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.Container})
		i = len(pod.Spec.Containers) - 1
	}
	k := &pod.Spec.Containers[i]
	if k.Image == "" {
		k.Image = c.Image
	}
	k.Command = slices.Clone(argv)
	k.Args = nil
	res, _ := c.podResources(shape) // checked in withDefaults
	k.Resources.Requests = res
	k.Resources.Limits = res.DeepCopy()
	k.Env = slices.DeleteFunc(k.Env, func(e corev1.EnvVar) bool { return e.Name == "EBB_TOKEN" || e.Name == EnvPodIP })
	k.Env = append(k.Env,
		corev1.EnvVar{Name: "EBB_TOKEN", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: string(id)}, Key: SecretToken},
		}},
		corev1.EnvVar{Name: EnvPodIP, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
	)
	return pod
}

// podLabels returns the labels a pod was launched with, from its
// annotation.
func podLabels(pod *corev1.Pod) ebb.Labels {
	s, ok := pod.Annotations[AnnotationLabels]
	if !ok {
		return nil
	}
	var l map[string]string
	if json.Unmarshal([]byte(s), &l) != nil {
		return nil
	}
	return ebb.Labels(l)
}
