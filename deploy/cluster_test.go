package deploy

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// freeRun finds n consecutive free TCP ports on loopback (the script gives
// its nodes base, base+1, …).
func freeRun(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		base := 20000 + rand.IntN(30000)
		ok := true
		for i := range n {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free run of ports")
	return 0
}

// TestLocalClusterRuns runs local-cluster.sh for real, on a fresh database
// of the test PostgreSQL: three nodes start ready, share a cluster secret
// (so shows relay between them) and bind media on loopback only; `stop`
// ends it.
func TestLocalClusterRuns(t *testing.T) {
	admin := testinfra.Require(t, testinfra.PostgresEnv, "PostgreSQL")
	tool(t, "redis-server", "redis-server")
	tool(t, "curl", "curl")
	tool(t, "psql", "postgresql-client")
	work := t.TempDir()
	bin := filepath.Join(work, "pavilion")
	build := exec.Command("go", "build", "-o", bin, "../cmd/pavilion")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	httpBase, mediaBase, metricsBase, redisPort := freeRun(t, 3), freeRun(t, 3), freeRun(t, 3), freeRun(t, 1)
	env := append(os.Environ(),
		"PAVILION_CLUSTER_DIR="+filepath.Join(work, "cluster"), "PAVILION_CLUSTER_PG="+admin, "PAVILION_BIN="+bin,
		fmt.Sprintf("PAVILION_CLUSTER_HTTP_BASE=%d", httpBase), fmt.Sprintf("PAVILION_CLUSTER_MEDIA_BASE=%d", mediaBase),
		fmt.Sprintf("PAVILION_CLUSTER_METRICS_BASE=%d", metricsBase), fmt.Sprintf("PAVILION_CLUSTER_REDIS_PORT=%d", redisPort),
		"PAVILION_CLUSTER_KEEP=1")
	start := exec.Command("bash", "local-cluster.sh", "start")
	start.Env = env
	out, pw := io.Pipe()
	start.Stdout, start.Stderr = pw, pw
	if err := start.Start(); err != nil {
		t.Fatal(err)
	}
	// Reaped as soon as it exits: `stop` waits for its pid to go, and a
	// zombie still answers kill -0.
	exited := make(chan struct{})
	go func() {
		_ = start.Wait()
		pw.Close()
		close(exited)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd := exec.Command("bash", "local-cluster.sh", "stop")
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("local-cluster.sh stop: %v\n%s", err, b)
		}
		<-exited
	}
	t.Cleanup(stop)

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var said strings.Builder
	deadline := time.After(90 * time.Second)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("local-cluster.sh ended during start:\n%s", said.String())
			}
			said.WriteString(l + "\n")
			if strings.Contains(l, "stops everything") {
				break wait
			}
		case <-deadline:
			t.Fatalf("local-cluster.sh did not start within 90 s:\n%s", said.String())
		}
	}
	go func() {
		for range lines { // keep the pipe drained
		}
	}()
	for i := range 3 {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", httpBase+i))
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("node %d readyz: %d", i+1, res.StatusCode)
		}
		log, err := os.ReadFile(filepath.Join(work, "cluster", fmt.Sprintf("node%d.log", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(log), "no --cluster-secret") {
			t.Errorf("node %d runs without a cluster secret:\n%s", i+1, log)
		}
		if want := fmt.Sprintf("media    127.0.0.1:%d", mediaBase+i); !strings.Contains(string(log), want) {
			t.Errorf("node %d: %q not in its banner:\n%s", i+1, want, log)
		}
	}
	if ps, err := exec.Command("ps", "-eo", "args").Output(); err == nil && strings.Contains(string(ps), "--cluster-secret") {
		t.Error("the cluster secret is in the process list")
	}
	stop()
}
