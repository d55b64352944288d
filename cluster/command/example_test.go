package command_test

import (
	"context"
	"log"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/cluster/bootstrap"
	"github.com/ebbflow/ebb/cluster/command"
	"github.com/ebbflow/ebb/repository"
)

// A site whose machines come from its own scripts: one submits a worker
// and prints its job ID, one lists the workers, one cancels a job. The
// workers reach the driver at its host name and fetch their inputs from
// the driver's repository.
func Example() {
	ctx := context.Background()
	repo, err := repository.Open("/var/lib/pipeline/repository")
	if err != nil {
		log.Fatal(err)
	}
	prov, err := command.New(ctx, command.Config{
		Start: []string{"/opt/site/submit-worker", "--cpus={{.CPU}}", "--mem={{.MemMiB}}M", "--name={{.ID}}", "--", "{{.Worker}}"},
		List:  []string{"/opt/site/list-workers"},
		Stop:  []string{"/opt/site/cancel", "{{.Handle}}"},
		Shapes: []cluster.Shape{
			{Name: "node", Resources: ebb.Resources{ebb.CPU: 8, ebb.Mem: 32 << 30}, Price: 8},
		},
		Bootstrap: bootstrap.Config{
			Command:      []string{"/usr/local/bin/ebb", "worker"},
			Listen:       ":0",
			WorkerListen: ":0",
			Blobs:        repo,
		},
		MaxWorkers: 16,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer prov.Close(ctx)
	elastic, err := cluster.NewElastic(cluster.ElasticConfig{Provider: prov})
	if err != nil {
		log.Fatal(err)
	}
	go elastic.Run(ctx)
	// elastic is the Aux cluster of a runner.Config.
}
