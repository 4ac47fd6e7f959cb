package testinfra

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// clusterNodeTimeout is the test cluster's cluster-node-timeout: how long a
// master may be unreachable before its replica takes over. Production keeps
// Redis's 15 s; tests want failovers in about two seconds.
const clusterNodeTimeout = 1000 * time.Millisecond

// RedisCluster is a private Redis Cluster of three masters, each with one
// replica, on loopback, for the tests of one test function: fault tests
// kill its masters, which nothing else may see.
type RedisCluster struct {
	// URL names the six nodes the way --redis-url does:
	// redis://127.0.0.1:p1,127.0.0.1:p2,…; any one of them is enough to
	// find the others, and listing all lets a client find the cluster after
	// any of them died.
	URL string

	tb    testing.TB
	nodes []*redisServer
}

// StartRedisCluster starts six redis-server processes in cluster mode on
// free loopback ports, joins them with `redis-cli --cluster create
// --cluster-replicas 1`, and waits until every slot is served and every
// replica has synced. Everything is killed when the test ends.
//
// Without redis-server and redis-cli on PATH the test skips, or fails under
// CI=true.
func StartRedisCluster(tb testing.TB) *RedisCluster {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	cli, cliErr := exec.LookPath("redis-cli")
	if err != nil || cliErr != nil {
		if InCI() {
			tb.Fatalf("redis-server or redis-cli is not on PATH: Redis Cluster tests must run in CI (CI=true)")
		}
		tb.Skip("install redis-server and redis-cli (Debian: redis-server, redis-tools) to run the Redis Cluster tests")
	}

	c := &RedisCluster{tb: tb}
	root := tb.TempDir()
	var addrs []string
	for i := range 6 {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("testinfra: find a free port: %v", err)
		}
		busPort, err := freePort()
		if err != nil {
			tb.Fatalf("testinfra: find a free port: %v", err)
		}
		dir := filepath.Join(root, strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			tb.Fatal(err)
		}
		s := &redisServer{bin: bin, port: port, dir: dir, extra: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(busPort),
			"--cluster-node-timeout", strconv.FormatInt(clusterNodeTimeout.Milliseconds(), 10),
			// A replica may take over however long it was cut off: the
			// tests kill masters on purpose, and the ledger is the truth.
			"--cluster-replica-validity-factor", "0",
		}}
		if err := s.start(); err != nil {
			tb.Fatalf("testinfra: cluster node %d: %v", i, err)
		}
		tb.Cleanup(s.stop)
		c.nodes = append(c.nodes, s)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		tb.Fatalf("testinfra: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitHealthy(ctx, true); err != nil {
		tb.Fatalf("testinfra: Redis Cluster: %v", err)
	}
	c.URL = "redis://" + strings.Join(addrs, ",")
	return c
}

// WaitHealthy waits until every live node reports the cluster ok (every
// slot served by a reachable master), as after a failover.
func (c *RedisCluster) WaitHealthy(limit time.Duration) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := c.waitHealthy(ctx, false); err != nil {
		c.tb.Fatalf("testinfra: Redis Cluster: %v", err)
	}
}

// waitHealthy polls every live node until each reports the cluster ok and
// maps every slot to a master that is running (right after a kill the
// survivors still report ok: they have not noticed yet); with synced, also
// until three replicas report their master link up.
func (c *RedisCluster) waitHealthy(ctx context.Context, synced bool) error {
	live := map[string]bool{}
	for _, a := range c.liveAddrs() {
		live[a] = true
	}
	var last string
	for {
		ok, replicas := true, 0
		for _, n := range c.nodes {
			if n.cmd == nil {
				continue
			}
			info, repl, slots, err := n.clusterInfo(ctx)
			if err != nil {
				ok, last = false, err.Error()
				break
			}
			if !strings.Contains(info, "cluster_state:ok") {
				ok, last = false, fmt.Sprintf("node %d: %s", n.port, firstLine(info))
				break
			}
			served := 0
			for _, r := range slots {
				if len(r.Nodes) == 0 || !live[r.Nodes[0].Addr] {
					ok, last = false, fmt.Sprintf("node %d maps slots %d-%d to a stopped master", n.port, r.Start, r.End)
					break
				}
				served += int(r.End - r.Start + 1)
			}
			if ok && served != 16384 {
				ok, last = false, fmt.Sprintf("node %d maps %d slots", n.port, served)
			}
			if !ok {
				break
			}
			if strings.Contains(repl, "role:slave") && strings.Contains(repl, "master_link_status:up") {
				replicas++
			}
		}
		if ok && (!synced || replicas == 3) {
			return nil
		}
		if ok {
			last = fmt.Sprintf("%d of 3 replicas synced", replicas)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not healthy: %s", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// clusterInfo returns the node's CLUSTER INFO, INFO replication and
// CLUSTER SLOTS.
func (s *redisServer) clusterInfo(ctx context.Context) (info, repl string, slots []goredis.ClusterSlot, err error) {
	client := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.port), MaxRetries: -1})
	defer client.Close()
	if info, err = client.ClusterInfo(ctx).Result(); err != nil {
		return "", "", nil, fmt.Errorf("node %d: cluster info: %w", s.port, err)
	}
	if repl, err = client.Info(ctx, "replication").Result(); err != nil {
		return "", "", nil, fmt.Errorf("node %d: info: %w", s.port, err)
	}
	if slots, err = client.ClusterSlots(ctx).Result(); err != nil {
		return "", "", nil, fmt.Errorf("node %d: cluster slots: %w", s.port, err)
	}
	return info, repl, slots, nil
}

// MasterOf returns the address of the master serving key's slot.
func (c *RedisCluster) MasterOf(key string) string {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.liveAddrs()})
	defer client.Close()
	master, err := client.MasterForKey(ctx, key)
	if err != nil {
		c.tb.Fatalf("testinfra: master of %q: %v", key, err)
	}
	return master.Options().Addr
}

// KillMasterOf kills (SIGKILL, as a crash) the master serving key's slot
// and returns its address. Its replica takes over after the node timeout.
func (c *RedisCluster) KillMasterOf(key string) string {
	c.tb.Helper()
	addr := c.MasterOf(key)
	for _, n := range c.nodes {
		if n.cmd != nil && fmt.Sprintf("127.0.0.1:%d", n.port) == addr {
			n.stop()
			return addr
		}
	}
	c.tb.Fatalf("testinfra: master %s of %q is not one of the cluster's nodes", addr, key)
	return ""
}

func (c *RedisCluster) liveAddrs() []string {
	var addrs []string
	for _, n := range c.nodes {
		if n.cmd != nil {
			addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", n.port))
		}
	}
	return addrs
}

// FailOver makes the replica of the master serving key's slot take over by
// agreement (CLUSTER FAILOVER), as an operator does before maintenance: the
// old master stays up, as a replica, and drops its sharded subscribers. It
// returns once the cluster is healthy again.
func (c *RedisCluster) FailOver(key string) {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.liveAddrs()})
	defer client.Close()
	master, err := client.MasterForKey(ctx, key)
	if err != nil {
		c.tb.Fatalf("testinfra: master of %q: %v", key, err)
	}
	repl, err := master.Info(ctx, "replication").Result()
	if err != nil {
		c.tb.Fatalf("testinfra: %v", err)
	}
	// slave0:ip=127.0.0.1,port=41234,state=online,offset=…,lag=0
	port := ""
	for _, line := range strings.Split(repl, "\n") {
		if rest, ok := strings.CutPrefix(line, "slave0:"); ok {
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "port="); ok {
					port = strings.TrimSpace(v)
				}
			}
		}
	}
	if port == "" {
		c.tb.Fatalf("testinfra: master %s has no replica:\n%s", master.Options().Addr, repl)
	}
	replica := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + port})
	defer replica.Close()
	if err := replica.ClusterFailover(ctx).Err(); err != nil {
		c.tb.Fatalf("testinfra: CLUSTER FAILOVER on %s: %v", port, err)
	}
	for {
		info, err := replica.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "role:master") {
			break
		}
		select {
		case <-ctx.Done():
			c.tb.Fatalf("testinfra: replica %s did not take over: %v", port, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := c.waitHealthy(ctx, false); err != nil {
		c.tb.Fatalf("testinfra: Redis Cluster after the failover: %v", err)
	}
}
