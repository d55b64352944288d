package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/ebbflow/ebb"
	"github.com/ebbflow/ebb/cluster"
	"github.com/ebbflow/ebb/dashboard"
	"github.com/ebbflow/ebb/pool/pooltest"
	"github.com/ebbflow/ebb/runner"
)

// A program shows its run on a page of its own server: it gives the
// Runner an event bus, makes a Dashboard over the Runner, follows the
// run with Run, and mounts the Dashboard.
func Example() {
	p := pooltest.NewPool(pooltest.PoolConfig{Nodes: []ebb.Resources{{ebb.CPU: 1}}})
	defer p.Close()
	noop := func(context.Context, ebb.FuncEnv) error { return nil }
	cfg := runner.Config{
		Flow: &ebb.Flow{Name: "hello", Tasks: []ebb.Task{
			{Name: "fetch", FuncKey: "fetch/v1", Func: noop, Resources: ebb.Resources{ebb.CPU: 1}},
			{Name: "count", FuncKey: "count/v1", Func: noop, Resources: ebb.Resources{ebb.CPU: 1}, After: []string{"fetch"}},
		}},
		Cluster: cluster.NewStatic(p),
		Events:  runner.NewEventBus(),
	}
	r, err := runner.New(cfg, nil)
	if err != nil {
		panic(err)
	}
	src, err := dashboard.NewRunSource(r, cfg)
	if err != nil {
		panic(err)
	}
	d, err := dashboard.New(dashboard.Config{Source: src, Token: "a secret for viewers beyond loopback"})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/run/", http.StripPrefix("/run", d))
	srv := httptest.NewServer(mux) // on 127.0.0.1: no token needed
	defer srv.Close()

	ctx, stop := context.WithCancel(context.Background())
	followed := make(chan error, 1)
	go func() { followed <- d.Run(ctx) }()
	if err := r.Run(context.Background()); err != nil {
		panic(err)
	}
	stop()
	<-followed // the view is final

	resp, err := http.Get(srv.URL + "/run/view")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var v struct {
		Final bool `json:"final"`
		Run   struct {
			Name, Phase string
		} `json:"run"`
		States map[string]int `json:"states"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		panic(err)
	}
	fmt.Println(v.Run.Name, v.Run.Phase, v.States, v.Final)
	// Output:
	// hello done map[done:2] true
}
