package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

const (
	// clusterStateReload bounds how long a cluster client routes to a slot's
	// old master after a failover when nothing tells it sooner (a MOVED
	// reply does). go-redis's default is a minute; reading the slot map
	// once a second costs one CLUSTER SLOTS a second per busy process.
	clusterStateReload = time.Second

	// failoverWait bounds how long a call that Redis refused unexecuted
	// (slot moving, cluster down, master unreachable) is tried again, when
	// the caller's context allows that long. A failover takes about
	// cluster-node-timeout plus a second; past this the caller gets the
	// error, and a buyer is told to try again.
	failoverWait = 5 * time.Second
)

// isClusterURL reports whether url names several addresses, which is how a
// Redis Cluster is configured.
func isClusterURL(url string) bool {
	rest, ok := strings.CutPrefix(url, "redis://")
	if !ok {
		rest, ok = strings.CutPrefix(url, "rediss://")
	}
	if !ok {
		return false
	}
	host, _, _ := strings.Cut(rest, "/")
	host, _, _ = strings.Cut(host, "?")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	return strings.Contains(host, ",")
}

// openCluster connects to the Redis Cluster whose seed addresses url lists,
// separated by commas, and checks that every master answers.
func openCluster(ctx context.Context, url string) (goredis.UniversalClient, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		// Not %w: url.Error quotes the URL, which may hold a password.
		return nil, errors.New("redis: parse cluster url: malformed URL")
	}
	if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
		return nil, fmt.Errorf("redis: parse cluster url: a cluster has only database 0, not %q", p)
	}
	addrs := strings.Split(u.Host, ",")
	q := u.Query()
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil || a == "" {
			return nil, fmt.Errorf("redis: parse cluster url: address %q must be host:port", a)
		}
	}
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	// go-redis reads one address from the host and the rest from addr=.
	u.Host, u.Path, u.RawQuery = addrs[0], "", q.Encode()
	opts, err := goredis.ParseClusterURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("redis: parse cluster url: %w", err)
	}
	if opts.ClusterStateReloadInterval == 0 {
		opts.ClusterStateReloadInterval = clusterStateReload
	}
	if opts.DialerRetries == 0 {
		// A refused dial is a node that is down, and go-redis's five tries
		// per dial would spend half a second on each dead node while it
		// looks for the slot map; the callers here retry on their own.
		opts.DialerRetries = 1
	}
	client := goredis.NewClusterClient(opts)
	err = client.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		return c.Ping(ctx).Err()
	})
	if err == nil {
		err = client.Ping(ctx).Err()
	}
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis: ping cluster %s: %w", strings.Join(addrs, ","), err)
	}
	return client, nil
}

// IsCluster reports whether client talks to a Redis Cluster.
func IsCluster(client goredis.UniversalClient) bool {
	_, ok := client.(*goredis.ClusterClient)
	return ok
}

// unexecuted reports whether err proves that Redis did not run the command:
// it was refused (the slot moved or is moving, the cluster is down, the
// node is loading or now a replica), or it never left this process (no
// connection could be made). Such a command may be sent again without any
// risk of applying it twice. A broken connection after the command went out
// is not such proof, and neither is a timeout.
func unexecuted(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := goredis.IsMovedError(err); ok {
		return true
	}
	if _, ok := goredis.IsAskError(err); ok {
		return true
	}
	if goredis.IsTryAgainError(err) || goredis.IsClusterDownError(err) || goredis.IsLoadingError(err) ||
		goredis.IsReadOnlyError(err) || goredis.IsMasterDownError(err) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, goredis.ErrPoolTimeout)
}

// retryUnexecuted calls f until it succeeds, fails with an error that may
// mean it ran, or failoverWait (or ctx) runs out. Between tries a cluster
// client is told to reread the slot map, so a promoted replica is found as
// soon as the cluster knows it.
func retryUnexecuted(ctx context.Context, client goredis.UniversalClient, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, failoverWait)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := f(ctx)
		if !unexecuted(err) {
			return err
		}
		if werr := backoff(ctx, client, attempt); werr != nil {
			return err
		}
	}
}

// backoff waits before try attempt+1 and asks a cluster client to reload its
// slot map. It fails when ctx ends first.
func backoff(ctx context.Context, client goredis.UniversalClient, attempt int) error {
	if c, ok := client.(*goredis.ClusterClient); ok {
		c.ReloadState(ctx)
	}
	d := min(10*time.Millisecond<<min(attempt, 5), 250*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
