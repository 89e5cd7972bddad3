package main

import (
	"strings"
	"testing"
	"time"

	"github.com/earshot-dev/earshot/bus/bustest"
)

// What a NATS cluster cannot hold, or a partition set-up that contradicts
// the running processes, is refused at start with exit 2 and a message
// that names the flag and the problem.
func TestClusterBadInput(t *testing.T) {
	cl := bustest.StartCluster(t)
	srv, _ := bustest.Start(t)
	running := startAnalyzerArgs(t, srv, "busy", "--partitions", "4", "--rules-grace", "10s")
	waitPartitions(t, 4, 10*time.Second, running)
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"replicas over the cluster", []string{"store", "--nats", cl.URL(), "--replicas", "5", "--data", t.TempDir()},
			[]string{"--replicas", "5", "fewer JetStream servers"}},
		{"replicas on one server", []string{"store", "--nats", srv.ClientURL(), "--replicas", "3", "--data", t.TempDir()},
			[]string{"--replicas", "single server"}},
		{"no partitions", []string{"analyze", "--nats", srv.ClientURL(), "--partitions", "0", "--data", t.TempDir()},
			[]string{"--partitions 0"}},
		{"partition count changed while running", []string{"analyze", "--nats", srv.ClientURL(), "--partitions", "8", "--identity", "other", "--data", t.TempDir()},
			[]string{"--partitions 8", "use 4", "stop them all"}},
		{"identity taken", []string{"analyze", "--nats", srv.ClientURL(), "--partitions", "4", "--identity", "busy", "--data", t.TempDir()},
			[]string{`"busy"`, "--identity"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, errs := stageExit(t, tc.args...)
			ok := code == 2
			for _, w := range tc.want {
				ok = ok && strings.Contains(errs, w)
			}
			if !ok {
				t.Errorf("earshot %s: exit %d, stderr:\n%s\nwant exit 2 saying %q", strings.Join(tc.args, " "), code, errs, tc.want)
			}
		})
	}
}
