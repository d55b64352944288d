package kube

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/internal/kubetest"
)

// TestRoleManifest checks the shipped Role: namespaced, and granting
// exactly the permissions the provider checks for.
func TestRoleManifest(t *testing.T) {
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(Role, &role); err != nil {
		t.Fatal(err)
	}
	if role.Kind != "Role" || role.Namespace != "" {
		t.Errorf("kind %s, namespace %q; want a Role for any namespace", role.Kind, role.Namespace)
	}
	var granted []string
	for _, r := range role.Rules {
		if len(r.APIGroups) != 1 || r.APIGroups[0] != "" || len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %+v: want the core group's resources alone", r)
		}
		for _, res := range r.Resources {
			for _, v := range r.Verbs {
				resource, sub, _ := strings.Cut(res, "/")
				granted = append(granted, permission{v, resource, sub}.String())
			}
		}
	}
	var want []string
	for _, m := range permissions {
		want = append(want, m.String())
	}
	slices.Sort(granted)
	slices.Sort(want)
	if !slices.Equal(granted, want) {
		t.Errorf("the Role grants %v, the provider needs %v", granted, want)
	}
}

// TestRole runs the provider as a ServiceAccount bound to exactly the
// shipped Role, in a namespace of its own: it launches, lists and
// terminates workers. The same account bound to the Role less one verb
// is refused by New, with an error naming the missing permission.
func TestRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := kubetest.Get(t)
	admin := c.Client(t)
	ns := testNamespace(t, admin)

	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(Role, &role); err != nil {
		t.Fatal(err)
	}
	client := serviceAccount(t, c, admin, ns, "ebb-driver", &role)
	p := newProvider(t, Config{Client: client, Namespace: ns})
	w, err := p.Launch(ctx, p.Shapes()[0], ebb.Labels{"run": "rbac"})
	if err != nil {
		t.Fatalf("Launch under the Role: %v", err)
	}
	if ws, err := p.Workers(ctx); err != nil || len(ws) != 1 {
		t.Errorf("Workers under the Role = %v, %v", ws, err)
	}
	if err := p.Terminate(ctx, w.ID); err != nil {
		t.Errorf("Terminate under the Role: %v", err)
	}
	// Nothing beyond the namespace.
	if _, err := client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{}); err == nil && c.Namespace != ns {
		t.Errorf("the account lists the pods of namespace %s", c.Namespace)
	}

	weaker := role.DeepCopy()
	weaker.Name = "ebb-driver-weaker"
	for i, r := range weaker.Rules {
		if slices.Contains(r.Resources, "secrets") {
			weaker.Rules[i].Verbs = slices.DeleteFunc(slices.Clone(r.Verbs), func(v string) bool { return v == "patch" })
		}
	}
	weak := serviceAccount(t, c, admin, ns, "ebb-weaker", weaker)
	cfg := clusterConfig(c, weak, Config{Namespace: ns})
	q, err := New(ctx, cfg)
	if err == nil {
		q.Close(ctx)
	}
	if !errors.Is(err, ebb.ErrInvalid) || !strings.Contains(err.Error(), "may not patch secrets in namespace "+ns) || !strings.Contains(err.Error(), "role.yaml") {
		t.Errorf("New under a Role without patch on secrets: %v; want ErrInvalid naming patch secrets and the Role", err)
	}
}

// serviceAccount creates a ServiceAccount in ns bound to role, and
// returns a client that authenticates as it, with a token of the
// TokenRequest API.
func serviceAccount(t *testing.T, c *kubetest.Cluster, admin kubernetes.Interface, ns, name string, role *rbacv1.Role) kubernetes.Interface {
	t.Helper()
	ctx := t.Context()
	role = role.DeepCopy()
	role.Namespace = ns
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hour := int64(3600)
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(c.Config())
	cfg.BearerToken = tr.Status.Token
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}
