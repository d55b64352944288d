package runner_test

import (
	"os"
	"strconv"
	"testing"
)

// BenchmarkFanOutFanIn runs fanFlow (8 intermediates, 4 tasks reading all
// of them, one sink) across 3 workers over 127.0.0.1, staging through the
// driver ("driver", as `ebb worker -driver-blobs`) and with worker blob
// caches and peer transfer ("peers"). It reports the blob bytes through
// the driver's repository server (driver-B/op) and through the workers'
// peer servers (peer-B/op). The intermediates are 1 MiB each, or
// EBB_FAN_SIZE bytes (268435456 for the 8 × 256 MiB of BENCHMARKS.md).
func BenchmarkFanOutFanIn(b *testing.B) {
	size := int64(1 << 20)
	if s := os.Getenv("EBB_FAN_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("EBB_FAN_SIZE=%q: want a positive number of bytes", s)
		}
		size = n
	}
	for _, mode := range []struct {
		name  string
		peers bool
	}{{"driver", false}, {"peers", true}} {
		b.Run(mode.name, func(b *testing.B) {
			var driver, peer int64
			for b.Loop() {
				b.StopTimer()
				rig := newTransferRig(b, 3, mode.peers)
				b.StartTimer()
				rig.run(b, fanFlow(8, 4, size))
				driver += rig.driver.bytes.Load()
				peer += rig.peerBytes()
			}
			b.ReportMetric(float64(driver)/float64(b.N), "driver-B/op")
			b.ReportMetric(float64(peer)/float64(b.N), "peer-B/op")
		})
	}
}
