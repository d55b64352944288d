package kube

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ebbflow/ebb"
)

// Role is the manifest of the RBAC Role the provider needs in its
// namespace, and nothing more (deploy/role.yaml): pods (get, list, watch,
// create, delete), pods/log (get), secrets (get, list, create, patch,
// delete).
// Bind it to the driver's account with a RoleBinding; no ClusterRole is
// needed.
//
//go:embed deploy/role.yaml
var Role []byte

// A permission is one verb on one resource that the provider uses.
type permission struct {
	verb, resource, subresource string
}

func (m permission) String() string {
	r := m.resource
	if m.subresource != "" {
		r += "/" + m.subresource
	}
	return m.verb + " " + r
}

// permissions are what the provider does, as Role grants them.
var permissions = []permission{
	{"get", "pods", ""}, {"list", "pods", ""}, {"watch", "pods", ""}, {"create", "pods", ""}, {"delete", "pods", ""},
	{"get", "pods", "log"},
	{"get", "secrets", ""}, {"list", "secrets", ""}, {"create", "secrets", ""}, {"patch", "secrets", ""}, {"delete", "secrets", ""},
}

// checkAccess asks the API server (SelfSubjectAccessReview) whether the
// provider's account may do all it does in the namespace, and fails with
// an error wrapping ebb.ErrInvalid naming what it may not. A server that
// does not answer fails it with ebb.ErrUnavailable; one that does not let
// the account review itself leaves the check to the calls themselves.
func checkAccess(ctx context.Context, client kubernetes.Interface, ns string) error {
	var missing []string
	for _, m := range permissions {
		r, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{
			Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
				Namespace: ns, Verb: m.verb, Resource: m.resource, Subresource: m.subresource,
			}},
		}, metav1.CreateOptions{})
		switch {
		case apierrors.IsForbidden(err):
			return nil
		case err != nil:
			return fmt.Errorf("kube: is the API server at %s answering? %w: %w", apiHost(client), err, ebb.ErrUnavailable)
		case !r.Status.Allowed:
			missing = append(missing, m.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("kube: the account may not %s in namespace %s: bind it the Role of cluster/kube/deploy/role.yaml (kube.Role): %w",
			strings.Join(missing, ", "), ns, ebb.ErrInvalid)
	}
	return nil
}

// apiError describes a failed call of the API server on one object: a
// permission the account lacks (ebb.ErrInvalid, naming it), a quota
// that refuses a pod (ebb.ErrUnavailable: it may have room later), an
// object the server refuses (ebb.ErrResources: it never takes it), or
// anything else (ebb.ErrUnavailable).
func (p *Provider) apiError(err error, verb, resource, name string) error {
	what := fmt.Sprintf("%s %s %s in namespace %s", verb, resource, name, p.cfg.Namespace)
	if name == "" {
		what = fmt.Sprintf("%s %s in namespace %s", verb, resource, p.cfg.Namespace)
	}
	var status apierrors.APIStatus
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota"):
		return fmt.Errorf("%s: over a ResourceQuota: %v: %w", what, err, ebb.ErrUnavailable)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s: the account may not %s %s (bind it the Role of cluster/kube/deploy/role.yaml): %v: %w", what, verb, resource, err, ebb.ErrInvalid)
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return fmt.Errorf("%s: the API server refuses it: %v: %w", what, err, ebb.ErrResources)
	case errors.As(err, &status):
		return fmt.Errorf("%s: %v: %w", what, err, ebb.ErrUnavailable)
	}
	return fmt.Errorf("%s: %v: %w", what, err, ebb.ErrUnavailable)
}

// apiHost returns the API server's address, for messages.
func apiHost(client kubernetes.Interface) string {
	if c, ok := client.CoreV1().RESTClient().(*rest.RESTClient); ok && c != nil && c.Get().URL() != nil {
		return c.Get().URL().Host
	}
	return "(unknown)"
}
