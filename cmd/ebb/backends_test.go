package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The telemetry backends the command's tests start in processes of their
// own: an OpenTelemetry Collector writing what it receives to a file, and
// a Prometheus scraping one target; and the test broker's queue.

// amqpQueue dials the test broker ($EBB_AMQP_URL, or the one
// scripts/rabbitmq-test-server starts), declares a topic exchange of the
// test's own named from prefix, and binds a fresh exclusive queue to it
// with "#". It returns the broker's URL, the exchange, and a channel and
// the queue's name to read what ebb published; all of it goes when the
// test ends. Without a broker the test is skipped, or fails under
// EBB_AMQP_REQUIRED.
func amqpQueue(t *testing.T, prefix string) (broker, exchange string, ch *amqp.Channel, queue string) {
	broker = os.Getenv("EBB_AMQP_URL")
	if broker == "" {
		broker = "amqp://guest:guest@127.0.0.1:5673/"
	}
	conn, err := amqp.Dial(broker)
	if err != nil {
		need(t, "EBB_AMQP_REQUIRED", fmt.Sprintf("no RabbitMQ at %s (%v): start one with scripts/rabbitmq-test-server up", broker, err))
	}
	t.Cleanup(func() { conn.Close() })
	if ch, err = conn.Channel(); err != nil {
		t.Fatal(err)
	}
	exchange = fmt.Sprintf("%s.%d", prefix, time.Now().UnixNano())
	if err := ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.ExchangeDelete(exchange, false, false) })
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "#", exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	return broker, exchange, ch, q.Name
}

// startCollector starts the collector binary bin with an OTLP/HTTP
// receiver on a free loopback address and a file exporter, and waits
// until it listens. It returns the receiver's address, the file the
// collector writes (complete once col.stop has returned) and the server.
func startCollector(ctx context.Context, t *testing.T, dir, bin string) (addr, out string, col *server) {
	t.Helper()
	addr = freeAddr(t)
	out = filepath.Join(dir, "otlp.json")
	conf := filepath.Join(dir, "otelcol.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: %q
exporters:
  file:
    path: %q
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
    metrics:
      receivers: [otlp]
      exporters: [file]
`, addr, out)), 0o644); err != nil {
		t.Fatal(err)
	}
	col = startServer(t, dir, bin, "--config", conf)
	poll(ctx, t, "the collector to listen on "+addr, func() (bool, error) {
		if err := col.up(); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil, err
	})
	return addr, out, col
}

// A prometheus is a Prometheus server scraping one target every second
// under the job name "ebb".
type prometheus struct {
	*server
	addr string // where its API listens
}

// startPrometheus starts the Prometheus binary bin scraping target
// (host:port) into a database under dir.
func startPrometheus(t *testing.T, dir, bin, target string) *prometheus {
	t.Helper()
	addr := freeAddr(t)
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: ebb
    static_configs:
      - targets: [%q]
`, target)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, dir, bin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr)
	return &prometheus{server: s, addr: addr}
}

// waitTasks polls Prometheus until sum(ebb_tasks_total) of the job is
// want, and fails the test when ctx ends first.
func (p *prometheus) waitTasks(ctx context.Context, t *testing.T, want int) {
	t.Helper()
	query := "http://" + p.addr + "/api/v1/query?query=" + url.QueryEscape(`sum(ebb_tasks_total{job="ebb"})`)
	poll(ctx, t, "Prometheus to count the run's tasks", func() (bool, error) {
		if err := p.up(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(query)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct{ Result []struct{ Value []any } }
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return false, err
		}
		if r.Status != "success" || len(r.Data.Result) != 1 || len(r.Data.Result[0].Value) != 2 {
			return false, fmt.Errorf("answer %+v", r)
		}
		got, _ := r.Data.Result[0].Value[1].(string)
		return got == fmt.Sprint(want), fmt.Errorf("%s tasks, want %d", got, want)
	})
}

// otlpFile is what a collector's file exporter wrote: the attributes of
// every span by the span's name (with its status code, 2 for an error,
// under the key "status.code", and the names of its events, joined by
// spaces, under "events"), the names of the metrics, and the service
// names of the resources that sent them.
type otlpFile struct {
	spans    map[string][]map[string]string
	metrics  map[string]bool
	services map[string]bool
}

// readOTLP reads the collector's file at path.
func readOTLP(t *testing.T, path string) otlpFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type kv struct {
		Key   string
		Value map[string]any
	}
	attrs := func(kvs []kv) map[string]string {
		m := map[string]string{}
		for _, a := range kvs {
			for _, v := range a.Value {
				m[a.Key] = fmt.Sprint(v)
			}
		}
		return m
	}
	f := otlpFile{spans: map[string][]map[string]string{}, metrics: map[string]bool{}, services: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var line struct {
			ResourceSpans []struct {
				Resource   struct{ Attributes []kv }
				ScopeSpans []struct {
					Spans []struct {
						Name       string
						Attributes []kv
						Status     struct{ Code int }
						Events     []struct{ Name string }
					}
				}
			}
			ResourceMetrics []struct {
				Resource     struct{ Attributes []kv }
				ScopeMetrics []struct {
					Metrics []struct{ Name string }
				}
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("collector output: %v", err)
		}
		for _, rs := range line.ResourceSpans {
			f.services[attrs(rs.Resource.Attributes)["service.name"]] = true
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					a := attrs(s.Attributes)
					a["status.code"] = fmt.Sprint(s.Status.Code)
					var events []string
					for _, e := range s.Events {
						events = append(events, e.Name)
					}
					a["events"] = strings.Join(events, " ")
					f.spans[s.Name] = append(f.spans[s.Name], a)
				}
			}
		}
		for _, rm := range line.ResourceMetrics {
			f.services[attrs(rm.Resource.Attributes)["service.name"]] = true
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					f.metrics[m.Name] = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return f
}
