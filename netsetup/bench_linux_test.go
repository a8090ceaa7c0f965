//go:build linux

package netsetup

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkAttachRelease measures the network setup cost per container start
// and delete, per mode. The container's namespace is made and dropped outside
// the timer (the start path gets it from clone). Unless named otherwise the
// container's namespace is dropped before Release (Delete after Wait) and a
// shared Host is used (OpenHost once, as a long-lived caller does).
//   - bridge-alive: Release while the container still runs (it deletes the veth itself)
//   - bridge-ownhost: Config.Host nil, a host namespace opened per call
func BenchmarkAttachRelease(b *testing.B) {
	for _, mode := range []string{"loopback", "bridge", "bridge+port", "bridge-alive", "bridge-ownhost"} {
		b.Run(mode, func(b *testing.B) {
			_, cfg := newHost(b)
			exited := true
			switch mode {
			case "loopback":
				cfg.Mode = ModeLoopback
			case "bridge-alive":
				exited = false
			case "bridge+port":
				cfg.Ports = []PortMapping{{HostPort: 18080, ContainerPort: 80}}
			}
			if mode != "bridge-ownhost" {
				h, err := OpenHost(cfg.HostNS)
				require.NoError(b, err)
				b.Cleanup(func() { h.Close() })
				cfg.Host = h
			}
			ctx := context.Background()
			var attach, release time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ctr := newTestNS(b)
				b.StartTimer()
				t0 := time.Now()
				a, err := Attach(ctx, cfg, ctr.path, "bench")
				require.NoError(b, err)
				t1 := time.Now()
				if exited {
					b.StopTimer()
					ctr.close()
					b.StartTimer()
				}
				t2 := time.Now()
				require.NoError(b, a.Release())
				t3 := time.Now()
				attach += t1.Sub(t0)
				release += t3.Sub(t2)
				b.StopTimer()
				ctr.close()
				b.StartTimer()
			}
			b.ReportMetric(float64(attach.Microseconds())/float64(b.N), "attach-µs/op")
			b.ReportMetric(float64(release.Microseconds())/float64(b.N), "release-µs/op")
		})
	}
}
