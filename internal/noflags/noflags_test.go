package noflags

import (
	"flag"
	"os/exec"
	"slices"
	"strings"
	"testing"

	_ "github.com/ebbflow/ebb"
	_ "github.com/ebbflow/ebb/cluster"
	_ "github.com/ebbflow/ebb/cluster/bootstrap"
	_ "github.com/ebbflow/ebb/cluster/clustertest"
	_ "github.com/ebbflow/ebb/cluster/command"
	_ "github.com/ebbflow/ebb/cluster/kube"
	_ "github.com/ebbflow/ebb/cluster/procs"
	_ "github.com/ebbflow/ebb/cluster/slurm"
	_ "github.com/ebbflow/ebb/dashboard"
	_ "github.com/ebbflow/ebb/internal/atomicfile"
	_ "github.com/ebbflow/ebb/internal/backoff"
	_ "github.com/ebbflow/ebb/internal/counting"
	_ "github.com/ebbflow/ebb/internal/doclinks"
	_ "github.com/ebbflow/ebb/internal/enginebench"
	_ "github.com/ebbflow/ebb/internal/heaptest"
	_ "github.com/ebbflow/ebb/internal/kubetest"
	_ "github.com/ebbflow/ebb/internal/placement"
	_ "github.com/ebbflow/ebb/internal/proctest"
	_ "github.com/ebbflow/ebb/internal/rankq"
	_ "github.com/ebbflow/ebb/internal/regfile"
	_ "github.com/ebbflow/ebb/internal/statusview"
	_ "github.com/ebbflow/ebb/internal/tokenfile"
	_ "github.com/ebbflow/ebb/internal/trylock"
	_ "github.com/ebbflow/ebb/pool"
	_ "github.com/ebbflow/ebb/pool/local"
	_ "github.com/ebbflow/ebb/pool/pooltest"
	_ "github.com/ebbflow/ebb/pool/remote"
	_ "github.com/ebbflow/ebb/repository"
	_ "github.com/ebbflow/ebb/repository/repositorytest"
	_ "github.com/ebbflow/ebb/runner"
	_ "github.com/ebbflow/ebb/runner/amqpsink"
	_ "github.com/ebbflow/ebb/sim"
	_ "github.com/ebbflow/ebb/stealer"
	_ "github.com/ebbflow/ebb/stealer/policytest"
	_ "github.com/ebbflow/ebb/tracing"
	_ "github.com/ebbflow/ebb/tracing/export"
)

// imported is every package the blank imports above bring in: the test
// fails when a library package is missing from them.
var imported = []string{
	"github.com/ebbflow/ebb",
	"github.com/ebbflow/ebb/cluster",
	"github.com/ebbflow/ebb/cluster/bootstrap",
	"github.com/ebbflow/ebb/cluster/clustertest",
	"github.com/ebbflow/ebb/cluster/command",
	"github.com/ebbflow/ebb/cluster/procs",
	"github.com/ebbflow/ebb/cluster/slurm",
	"github.com/ebbflow/ebb/dashboard",
	"github.com/ebbflow/ebb/internal/atomicfile",
	"github.com/ebbflow/ebb/internal/backoff",
	"github.com/ebbflow/ebb/internal/counting",
	"github.com/ebbflow/ebb/internal/doclinks",
	"github.com/ebbflow/ebb/internal/enginebench",
	"github.com/ebbflow/ebb/internal/heaptest",
	"github.com/ebbflow/ebb/internal/proctest",
	"github.com/ebbflow/ebb/internal/placement",
	"github.com/ebbflow/ebb/internal/rankq",
	"github.com/ebbflow/ebb/internal/regfile",
	"github.com/ebbflow/ebb/internal/statusview",
	"github.com/ebbflow/ebb/internal/tokenfile",
	"github.com/ebbflow/ebb/internal/trylock",
	"github.com/ebbflow/ebb/pool",
	"github.com/ebbflow/ebb/pool/local",
	"github.com/ebbflow/ebb/pool/pooltest",
	"github.com/ebbflow/ebb/pool/remote",
	"github.com/ebbflow/ebb/repository",
	"github.com/ebbflow/ebb/repository/repositorytest",
	"github.com/ebbflow/ebb/runner",
	"github.com/ebbflow/ebb/sim",
	"github.com/ebbflow/ebb/stealer",
	"github.com/ebbflow/ebb/stealer/policytest",
	"github.com/ebbflow/ebb/tracing",
	"github.com/ebbflow/ebb/tracing/export",
	"github.com/ebbflow/ebb/runner/amqpsink",
	"github.com/ebbflow/ebb/internal/kubetest",
	"github.com/ebbflow/ebb/cluster/kube",
}

// TestNoGlobalFlags checks that importing ebb's packages leaves
// flag.CommandLine as the testing package made it.
func TestNoGlobalFlags(t *testing.T) {
	var extra []string
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if !strings.HasPrefix(f.Name, "test.") {
			extra = append(extra, f.Name)
		}
	})
	if len(extra) > 0 {
		t.Errorf("flags registered on flag.CommandLine by ebb's packages or their imports: %v, want none", extra)
	}
}

// TestImportsEveryPackage checks that the imports above are the module's
// library packages, so that a new package is checked too.
func TestImportsEveryPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{if ne .Name "main"}}{{.ImportPath}}{{end}}`, "github.com/ebbflow/ebb/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/ebbflow/ebb/internal/noflags" && !slices.Contains(imported, p) {
			t.Errorf("package %s is not imported by this test; add it to the imports and to imported", p)
		}
	}
}
