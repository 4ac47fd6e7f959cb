package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/stream"
)

// Directory is the stream.Directory of a cluster, shared by every node on the
// same Redis and prefix. Expiry is measured on the Redis server's clock,
// which every node shares, never on a node's own.
//
// Keys:
//
//   - <prefix>nodes:{directory} is a sorted set of node ids scored by the
//     Redis time (ms) their heartbeat expires at, and
//     <prefix>nodeinfo:{directory} a hash of node id → the node as JSON.
//     Both share a hash tag, so one script updates both atomically in a
//     Redis Cluster, and listing the nodes reads two keys instead of
//     scanning the keyspace. Each key expires when the longest-lived
//     heartbeat does, so an abandoned directory leaves nothing behind.
//   - <prefix>origin:{<show>} holds the id of the show's origin node, with
//     the claim's TTL as the key's own (PX). Shows spread over the cluster's
//     slots.
//   - <prefix>relay:{<show>} is a hash of node id → parent id, the show's
//     relay tree, and <prefix>relayexp:{<show>} a sorted set of the same
//     node ids scored by the Redis time (ms) their link expires at. They
//     share the origin key's hash tag, so one script reads the origin and
//     places a node atomically.
type Directory struct {
	client goredis.UniversalClient
	prefix string
}

var _ stream.Directory = (*Directory)(nil)

// NewDirectory returns a directory on client whose keys start with prefix
// (production uses "pavilion:"). The caller keeps ownership of client.
func NewDirectory(client goredis.UniversalClient, prefix string) *Directory {
	return &Directory{client: client, prefix: prefix}
}

// redisNowLua sets now to the Redis server's time in milliseconds.
const redisNowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// heartbeatScript records node ARGV[1] (JSON in ARGV[2]) as alive for ARGV[3]
// ms in the set KEYS[1] and the hash KEYS[2], forgets nodes whose heartbeat
// has expired, and extends the keys' own TTL to cover this heartbeat (never
// shortening it: another node may have sent a longer one).
var heartbeatScript = goredis.NewScript(redisNowLua + `
local ttl = tonumber(ARGV[3])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
for _, k in ipairs(KEYS) do
  if redis.call('PTTL', k) < ttl then
    redis.call('PEXPIRE', k, ttl)
  end
end
return 1
`)

// nodesScript returns the JSON of every node in KEYS[2] whose heartbeat in
// KEYS[1] has not expired; with ARGV[1], only that node's (or nothing).
var nodesScript = goredis.NewScript(redisNowLua + `
local ids
if ARGV[1] then
  local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not exp or tonumber(exp) <= now then return {} end
  ids = {ARGV[1]}
else
  ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
  if #ids == 0 then return {} end
end
return redis.call('HMGET', KEYS[2], unpack(ids))
`)

// claimScript makes ARGV[1] the holder of KEYS[1] for ARGV[2] ms if the key
// is free or already holds ARGV[1] (a refresh), and returns {1}; otherwise it
// returns {0, holder}. A bare SET NX PX would refuse the holder's own
// refresh, and a GET then SET from the client would race with other
// claimers: the compare and the SET … PX must be one step.
var claimScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then
  return {0, cur}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1}
`)

// releaseScript deletes KEYS[1] only while it holds ARGV[1], so a node whose
// claim expired and was taken over cannot delete the new holder's claim.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// placeScript places ARGV[1] in the relay tree of the show whose origin
// key is KEYS[1] (links in KEYS[2], their expiry in KEYS[3]) for ARGV[2] ms:
// stream.PlaceInTree, step for step. ARGV[3] is the parent to keep ("" to
// place anew), ARGV[4] the number of nodes to avoid, then their ids, then
// the live nodes as id, fanout pairs (read by the caller from the node
// set, which lives in another slot: liveness may be a moment old, the
// placement itself is atomic). Returns {1, parent, depth} or {0, reason}.
var placeScript = goredis.NewScript(redisNowLua + `
local child, ttl, keep = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[2], id)
end
local origin = redis.call('GET', KEYS[1])
if not origin then return {0, 'notfound'} end
if origin == child then return {0, 'invalid'} end
local avoid = {}
local navoid = tonumber(ARGV[4])
for i = 5, 4 + navoid do avoid[ARGV[i]] = true end
local fanout = {}
for i = 5 + navoid, #ARGV, 2 do fanout[ARGV[i]] = math.max(tonumber(ARGV[i + 1]), 1) end
local function usable(n) return fanout[n] ~= nil and not avoid[n] and n ~= child end
local parents = {}
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do parents[flat[i]] = flat[i + 1] end
local function record(parent, depth)
  redis.call('HSET', KEYS[2], child, parent)
  redis.call('ZADD', KEYS[3], now + ttl, child)
  for i = 2, 3 do
    if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
  return {1, parent, depth}
end
if keep ~= '' then
  local cur = keep
  for d = 1, ` + maxDepthLua + ` do
    if not usable(cur) then break end
    if cur == origin then return record(keep, d) end
    cur = parents[cur]
    if not cur then break end
  end
  return {0, 'conflict'}
end
local kids = {}
for c, p in pairs(parents) do
  if fanout[c] ~= nil and c ~= child then
    kids[p] = kids[p] or {}
    table.insert(kids[p], c)
  end
end
local queue, depths, head = {origin}, {[origin] = 0}, 1
while head <= #queue do
  local n = queue[head]
  head = head + 1
  if usable(n) then
    local cs = kids[n] or {}
    if #cs < fanout[n] then return record(n, depths[n] + 1) end
    table.sort(cs)
    for _, c in ipairs(cs) do
      if depths[c] == nil then
        depths[c] = depths[n] + 1
        table.insert(queue, c)
      end
    end
  end
end
return {0, 'full'}
`)

// maxDepthLua is stream.MaxRelayDepth for the script.
var maxDepthLua = strconv.Itoa(stream.MaxRelayDepth)

// treeScript returns the unexpired links of KEYS[2] (expiry in KEYS[3]) as
// a flat child, parent list.
var treeScript = goredis.NewScript(redisNowLua + `
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. now, '+inf')
local out = {}
for _, id in ipairs(ids) do
  local p = redis.call('HGET', KEYS[2], id)
  if p then
    table.insert(out, id)
    table.insert(out, p)
  end
end
return out
`)

func (d *Directory) treeKeys(show uuid.UUID) []string {
	tag := "{" + show.String() + "}"
	return []string{d.originKey(show), d.prefix + "relay:" + tag, d.prefix + "relayexp:" + tag}
}

// PlaceRelay attaches req.Node to show's relay tree (stream.RelayDirectory).
func (d *Directory) PlaceRelay(ctx context.Context, show uuid.UUID, req stream.RelayRequest, ttl time.Duration) (stream.Placement, error) {
	if show == uuid.Nil {
		return stream.Placement{}, apperr.Errorf(apperr.Invalid, "show id is required")
	}
	if req.Node == "" {
		return stream.Placement{}, apperr.Errorf(apperr.Invalid, "node id is required")
	}
	ms, err := ttlMillis(ttl)
	if err != nil {
		return stream.Placement{}, err
	}
	nodes, err := d.nodes(ctx)
	if err != nil {
		return stream.Placement{}, fmt.Errorf("redis: directory place relay %s: %w", show, err)
	}
	args := []any{req.Node, ms, req.Keep, len(req.Avoid)}
	for _, a := range req.Avoid {
		args = append(args, a)
	}
	byID := make(map[string]stream.Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
		args = append(args, n.ID, n.RelayFanout)
	}
	res, err := placeScript.Run(ctx, d.client, d.treeKeys(show), args...).Slice()
	if err != nil {
		return stream.Placement{}, fmt.Errorf("redis: directory place relay %s: %w", show, err)
	}
	if len(res) == 3 {
		if won, _ := res[0].(int64); won == 1 {
			parent, _ := res[1].(string)
			depth, _ := res[2].(int64)
			return stream.Placement{Parent: byID[parent], Depth: int(depth)}, nil
		}
	}
	reason := ""
	if len(res) == 2 {
		reason, _ = res[1].(string)
	}
	switch reason {
	case "notfound":
		return stream.Placement{}, apperr.Errorf(apperr.NotFound, "show %s has no origin", show)
	case "invalid":
		return stream.Placement{}, apperr.Errorf(apperr.Invalid, "the origin is not placed in its own tree")
	case "conflict":
		return stream.Placement{}, apperr.Errorf(apperr.Conflict, "node %s no longer leads to the origin", req.Keep)
	case "full":
		return stream.Placement{}, apperr.Errorf(apperr.Unavailable, "no node serving this show has room for another relay")
	}
	return stream.Placement{}, fmt.Errorf("redis: directory place relay %s: unexpected reply %v", show, res)
}

// LeaveRelay drops node's link in show's tree.
func (d *Directory) LeaveRelay(ctx context.Context, show uuid.UUID, node string) error {
	if node == "" {
		return apperr.Errorf(apperr.Invalid, "node id is required")
	}
	keys := d.treeKeys(show)
	_, err := d.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HDel(ctx, keys[1], node)
		p.ZRem(ctx, keys[2], node)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: directory leave relay %s: %w", show, err)
	}
	return nil
}

// RelayTree returns show's unexpired links, child → parent.
func (d *Directory) RelayTree(ctx context.Context, show uuid.UUID) (map[string]string, error) {
	if show == uuid.Nil {
		return nil, apperr.Errorf(apperr.Invalid, "show id is required")
	}
	flat, err := treeScript.Run(ctx, d.client, d.treeKeys(show)).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redis: directory relay tree %s: %w", show, err)
	}
	out := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		out[flat[i]] = flat[i+1]
	}
	return out, nil
}

func (d *Directory) nodeKeys() []string {
	return []string{d.prefix + "nodes:{directory}", d.prefix + "nodeinfo:{directory}"}
}

func (d *Directory) originKey(show uuid.UUID) string {
	return d.prefix + "origin:{" + show.String() + "}"
}

// ttlMillis converts ttl for PX and PEXPIRE, which count whole milliseconds.
func ttlMillis(ttl time.Duration) (int64, error) {
	if ttl < time.Millisecond {
		return 0, apperr.Errorf(apperr.Invalid, "ttl must be at least 1ms, not %v", ttl)
	}
	return ttl.Milliseconds(), nil
}

// Heartbeat registers n, or refreshes it, for ttl.
func (d *Directory) Heartbeat(ctx context.Context, n stream.Node, ttl time.Duration) error {
	if n.ID == "" {
		return apperr.Errorf(apperr.Invalid, "node id is required")
	}
	ms, err := ttlMillis(ttl)
	if err != nil {
		return err
	}
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("redis: directory heartbeat %s: %w", n.ID, err)
	}
	err = retryUnexecuted(ctx, d.client, func(ctx context.Context) error {
		return heartbeatScript.Run(ctx, d.client, d.nodeKeys(), n.ID, b, ms).Err()
	})
	if err != nil {
		return fmt.Errorf("redis: directory heartbeat %s: %w", n.ID, err)
	}
	return nil
}

// Nodes lists the nodes whose heartbeat has not expired, in no set order.
func (d *Directory) Nodes(ctx context.Context) ([]stream.Node, error) {
	nodes, err := d.nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("redis: directory nodes: %w", err)
	}
	return nodes, nil
}

// nodes runs nodesScript, for one node when args holds its id.
func (d *Directory) nodes(ctx context.Context, args ...any) ([]stream.Node, error) {
	var vals []any
	err := retryUnexecuted(ctx, d.client, func(ctx context.Context) error {
		var err error
		vals, err = nodesScript.Run(ctx, d.client, d.nodeKeys(), args...).Slice()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]stream.Node, 0, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			// A heartbeat writes both keys in one script; a missing field
			// means the hash alone was lost (an eviction): the node shows
			// again on its next heartbeat.
			continue
		}
		var n stream.Node
		if err := json.Unmarshal([]byte(s), &n); err != nil {
			return nil, fmt.Errorf("decode node: %w", err)
		}
		out = append(out, n)
	}
	return out, nil
}

// ClaimOrigin records nodeID as the origin of show for ttl, or refreshes
// nodeID's claim. It fails with an apperr.Conflict naming the holder while
// another node's claim is unexpired.
func (d *Directory) ClaimOrigin(ctx context.Context, show uuid.UUID, nodeID string, ttl time.Duration) error {
	if show == uuid.Nil {
		return apperr.Errorf(apperr.Invalid, "show id is required")
	}
	if nodeID == "" {
		return apperr.Errorf(apperr.Invalid, "node id is required")
	}
	ms, err := ttlMillis(ttl)
	if err != nil {
		return err
	}
	var res []any
	err = retryUnexecuted(ctx, d.client, func(ctx context.Context) error {
		var err error
		res, err = claimScript.Run(ctx, d.client, []string{d.originKey(show)}, nodeID, ms).Slice()
		return err
	})
	if err != nil {
		return fmt.Errorf("redis: directory claim %s: %w", show, err)
	}
	if len(res) == 0 {
		return fmt.Errorf("redis: directory claim %s: empty reply", show)
	}
	if won, _ := res[0].(int64); won == 1 {
		return nil
	}
	holder := "another node"
	if len(res) > 1 {
		if h, ok := res[1].(string); ok {
			holder = h
		}
	}
	return apperr.Errorf(apperr.Conflict, "show %s is already published from node %s", show, holder)
}

// Origin returns the node holding show's claim, if both the claim and the
// node's heartbeat are unexpired.
func (d *Directory) Origin(ctx context.Context, show uuid.UUID) (stream.Node, bool, error) {
	if show == uuid.Nil {
		return stream.Node{}, false, apperr.Errorf(apperr.Invalid, "show id is required")
	}
	// Two steps: the claim and the node list live in different slots.
	var id string
	err := retryUnexecuted(ctx, d.client, func(ctx context.Context) error {
		var err error
		id, err = d.client.Get(ctx, d.originKey(show)).Result()
		return err
	})
	if errors.Is(err, goredis.Nil) {
		return stream.Node{}, false, nil
	}
	if err != nil {
		return stream.Node{}, false, fmt.Errorf("redis: directory origin %s: %w", show, err)
	}
	nodes, err := d.nodes(ctx, id)
	if err != nil {
		return stream.Node{}, false, fmt.Errorf("redis: directory origin %s: %w", show, err)
	}
	if len(nodes) == 0 {
		// Claimed by a node whose heartbeat expired: a dead origin.
		return stream.Node{}, false, nil
	}
	return nodes[0], true, nil
}

// ReleaseOrigin drops nodeID's claim on show; another node's claim stays.
func (d *Directory) ReleaseOrigin(ctx context.Context, show uuid.UUID, nodeID string) error {
	if nodeID == "" {
		return apperr.Errorf(apperr.Invalid, "node id is required")
	}
	err := retryUnexecuted(ctx, d.client, func(ctx context.Context) error {
		return releaseScript.Run(ctx, d.client, []string{d.originKey(show)}, nodeID).Err()
	})
	if err != nil {
		return fmt.Errorf("redis: directory release %s: %w", show, err)
	}
	return nil
}
