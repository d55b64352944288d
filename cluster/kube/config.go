package kube

import (
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
)

// Defaults of the Config fields left zero.
const (
	DefaultName            = "ebb"
	DefaultNamespace       = "default"
	DefaultContainer       = "worker"
	DefaultGPUResource     = "nvidia.com/gpu"
	DefaultPendingTimeout  = 10 * time.Minute
	DefaultAnnounceTimeout = 2 * time.Minute
	DefaultStopTimeout     = time.Minute
)

// Config configures a Provider. Client, Image, Shapes and
// Bootstrap.Command are required.
type Config struct {
	// Client is the Kubernetes API client: see Connect for one made
	// from a kubeconfig, or in a pod, from its ServiceAccount.
	Client kubernetes.Interface

	// Namespace holds the workers' pods and Secrets. Default "default";
	// Connect tells a driver running in a pod its own.
	Namespace string

	// Name tells this driver's workers apart from everyone else's in
	// the namespace: every pod and Secret of the provider carries the
	// label ebbflow.io/provider=Name, and a provider lists, adopts and
	// cleans up the pods of its Name alone. Drivers that run at once in
	// one namespace need names of their own; a driver that resumes a
	// run uses the name it had. A DNS label of at most 40 characters
	// (lower-case letters, digits and '-'). Default "ebb".
	Name string

	// Image is the container image the workers run, holding the ebb
	// binary at Bootstrap.Command[0]. Required.
	Image string

	// Bootstrap says how workers are started and announce themselves:
	// Command is the argv of `ebb worker` inside the image, as
	// {"/usr/local/bin/ebb", "worker"}; Listen, Advertise and
	// WorkerListen must let the pods reach the driver and the driver
	// the pods: Listen ":7070" and Advertise the name of a Service that
	// selects the driver's pod (or, outside the cluster, an address the
	// pods reach), and WorkerListen "$(EBB_POD_IP):0", the pod's address
	// (see EnvPodIP). The defaults (127.0.0.1) suit only hostNetwork pods
	// on the driver's machine.
	// Repository, when set, is a directory the pod template mounts at
	// that same path from a volume the driver sees too.
	Bootstrap bootstrap.Config

	// Shapes are the kinds of worker the provider launches. Each is one
	// pod whose worker container requests, and is limited to, exactly
	// the shape's Resources: cpu as cores (millicores allowed), mem as
	// memory, disk as ephemeral-storage, gpu as GPUResource. Other
	// resources are refused. The worker serves the whole shape, so the
	// worker process itself lives within it too: leave it some memory.
	Shapes []cluster.Shape

	// Template is the pod the workers' pods are made from: its labels,
	// annotations, node selector, tolerations, affinity, service
	// account, image pull secrets, volumes, security context and more
	// are kept. Its container named Container, if any, is the worker's:
	// its volume mounts, image pull policy, security context and
	// environment are kept, while the provider sets its image (unless
	// the template names one), command, resources and EBB_TOKEN. The
	// provider adds its own labels (ebbflow.io/...), sets the name and
	// namespace, restartPolicy Never, and the termination grace period
	// (see TerminationGrace). Nil: a pod of the one worker container.
	Template *corev1.PodTemplateSpec

	// Container is the name of the worker's container. Default
	// "worker".
	Container string

	// GPUResource is the extended resource a shape's gpu asks for.
	// Default "nvidia.com/gpu".
	GPUResource corev1.ResourceName

	// PendingTimeout is how long a pod may wait to run (unschedulable,
	// its image being pulled, a quota in the way): one not running by
	// then is deleted, and its Launch fails with ebb.ErrUnavailable, so
	// that an Elastic backs its shape off. Default 10 minutes.
	PendingTimeout time.Duration

	// AnnounceTimeout is how long a running pod's worker has to announce
	// itself: one that has not by then (it cannot reach the driver, say)
	// is deleted, and its Launch fails with ebb.ErrUnavailable. Default
	// 2 minutes.
	AnnounceTimeout time.Duration

	// TerminationGrace is the pods' terminationGracePeriodSeconds, and
	// the grace Terminate deletes a pod with: between the SIGTERM that
	// makes the worker drain and the SIGKILL. Default the bootstrap's
	// Grace plus 5 s, rounded up to whole seconds.
	TerminationGrace time.Duration

	// StopTimeout is how long a failed Launch, and Close, wait for the
	// pods they deleted to be gone. Default 1 minute.
	StopTimeout time.Duration

	// Logger receives the provider's events. Nil discards them.
	Logger *slog.Logger
}

var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$`)

// withDefaults returns c with its zero fields filled in, or an error
// wrapping ebb.ErrInvalid that names the first bad field.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("kube: Config."+format+": %w", append(args, ebb.ErrInvalid)...)
	}
	if c.Client == nil {
		return bad("Client: nil; see kube.Connect")
	}
	if c.Image == "" {
		return bad("Image: empty; want the image of the workers, holding the ebb binary")
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if !nameRE.MatchString(c.Name) {
		return bad("Name %q: want a DNS label of at most 40 lower-case letters, digits and '-'", c.Name)
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if errs := validation.IsDNS1123Label(c.Namespace); len(errs) > 0 {
		return bad("Namespace %q: %s", c.Namespace, errs[0])
	}
	if c.Container == "" {
		c.Container = DefaultContainer
	}
	if errs := validation.IsDNS1123Label(c.Container); len(errs) > 0 {
		return bad("Container %q: %s", c.Container, errs[0])
	}
	if c.GPUResource == "" {
		c.GPUResource = DefaultGPUResource
	}
	if c.Template != nil {
		c.Template = c.Template.DeepCopy()
	}
	err := bootstrap.CheckProvider(bootstrap.ProviderConfig{
		Bootstrap: &c.Bootstrap,
		Want:      `the argv of a worker in the image, as {"/usr/local/bin/ebb", "worker"}`,
		Shapes:    &c.Shapes,
		Shape: func(s cluster.Shape) error {
			if errs := validation.IsValidLabelValue(s.Name); len(errs) > 0 {
				return fmt.Errorf("name %q: it labels the pods: %s: %w", s.Name, errs[0], ebb.ErrInvalid)
			}
			_, err := c.podResources(s)
			return err
		},
		Durations: []bootstrap.Duration{
			{Name: "PendingTimeout", Value: &c.PendingTimeout, Default: DefaultPendingTimeout},
			{Name: "AnnounceTimeout", Value: &c.AnnounceTimeout, Default: DefaultAnnounceTimeout},
			{Name: "StopTimeout", Value: &c.StopTimeout, Default: DefaultStopTimeout},
			{Name: "TerminationGrace", Value: &c.TerminationGrace},
		},
		Logger: &c.Logger,
	})
	if err != nil {
		return c, fmt.Errorf("kube: %w", err)
	}
	if c.TerminationGrace == 0 {
		grace := c.Bootstrap.Grace
		if grace == 0 {
			grace = bootstrap.DefaultGrace
		}
		c.TerminationGrace = grace + 5*time.Second
	}
	c.TerminationGrace = time.Duration(math.Ceil(c.TerminationGrace.Seconds())) * time.Second
	return c, nil
}

// podResources returns the worker container's requests (and limits, the
// same) for shape s, or an error wrapping ebb.ErrInvalid for a resource
// a pod cannot ask.
func (c Config) podResources(s cluster.Shape) (corev1.ResourceList, error) {
	list := corev1.ResourceList{}
	for name, v := range s.Resources {
		if v == 0 {
			continue
		}
		switch name {
		case ebb.CPU:
			list[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Ceil(v*1000)), resource.DecimalSI)
		case ebb.Mem:
			list[corev1.ResourceMemory] = *resource.NewQuantity(int64(math.Ceil(v)), resource.BinarySI)
		case ebb.Disk:
			list[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(math.Ceil(v)), resource.BinarySI)
		case ebb.GPU:
			if v != math.Trunc(v) {
				return nil, fmt.Errorf("shape %q: gpu %v: want a whole number: %w", s.Name, v, ebb.ErrInvalid)
			}
			list[c.GPUResource] = *resource.NewQuantity(int64(v), resource.DecimalSI)
		default:
			return nil, fmt.Errorf("shape %q: resource %q: a pod can be asked only cpu, mem, disk and gpu: %w", s.Name, name, ebb.ErrInvalid)
		}
	}
	return list, nil
}
