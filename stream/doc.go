// Package stream is the WebRTC SFU on pion/webrtc v4: WHIP ingest (RFC 9725)
// and WHEP egress, forwarding the publisher's RTP to every viewer without
// transcoding.
//
// One thing per type: Server (stream.go) is the composition cmd/pavilion
// wires, and its HTTP face (http.go; request reading and error answers in
// httpio.go). Under it: peerAPIs (peers.go), the media socket and the pion
// APIs; rooms (rooms.go), every show's feed and every session; feed,
// source and publisher (feed.go) and viewer and binding (viewer.go), a
// show's fan-out; ring (ring.go), one stream's packet cache; relays
// (relay.go), the pulls between nodes; presence (presence.go), this node in
// the cluster's Directory.
//
// HTTP (see http.go):
//
//   - POST /whip/{show} with "Authorization: Bearer <stream key>" and an
//     application/sdp offer (at most 64 KiB) answers 201 Created with a
//     Location /whip/{show}/{session}, an ETag, the SDP answer (all server
//     candidates included) and the STUN/TURN servers as Link headers. One
//     publisher per show: a second one gets 409. A missing or wrong key gets
//     401 and changes nothing.
//   - POST /whep/{show}[?layer=<rid>] does the same for a viewer. No feed: 404;
//     the host reconnecting or no media yet: 503 with Retry-After.
//   - DELETE on a Location ends that session; PATCH adds trickle ICE
//     candidates (application/trickle-ice-sdpfrag; ICE restarts get 422,
//     a stale If-Match 412); OPTIONS answers CORS preflight; POST
//     /whep/{show}/{session}/layer picks a simulcast layer. The session URL
//     is the capability (an unguessable random id).
//
// Media path (ring.go, feed.go, viewer.go):
//
//   - Every incoming stream (a track, or one simulcast layer) is written into
//     a ring indexed by extended sequence number and shared read-only by all
//     viewers. A viewer holds cursors, not packets, so its memory does not
//     grow with the bitrate, and NACKs are answered from the ring (no
//     per-viewer retransmission buffer; pion's NACK responder is not used).
//   - One writer goroutine per viewer rewrites SSRC, payload type, sequence
//     numbers and timestamps, and sends the viewer's RTCP sender reports
//     (a viewer has no pion interceptor); another reads its RTCP. A viewer
//     more than 500 ms behind (a stalled TCP path, a starved goroutine)
//     skips: video to the next keyframe (requested from the publisher),
//     audio to the live edge. Others are never waited for.
//   - Fast start: the ring keeps the newest keyframe group. A new viewer gets
//     it at once, with the frames since the keyframe given timestamps just
//     before the live edge, so the picture is current immediately and
//     playout is not delayed by the keyframe's age. Only when nothing is
//     cached is a keyframe requested. Keyframe requests (a new source,
//     viewers' PLI/FIR, skips, layer switches) reach the publisher at most
//     once per PLIInterval per source.
//   - Simulcast: each viewer gets its chosen layer, or automatically the
//     highest its receiver reports' loss (down above 10 %, up after 8 s under
//     2 %) and REMB allow; switches happen at the new layer's keyframe.
//   - A feed outlives its publisher for EndGrace: a host whose connection
//     drops and who publishes again keeps every viewer (same session, new
//     source at its first keyframe). OnLive fires when a show starts
//     publishing, OnEnded when the grace period runs out.
//   - A Recorder (internal/record) records each show published here: the
//     feed owns the recording, so a publisher back within the grace period
//     goes on in the same file; the read loop hands it packets without
//     waiting (record.go).
//   - One UDP port for all media (ICE UDP mux) and ICE-TCP on the same port
//     number; PublicIPs replace host candidates' addresses behind 1:1 NAT.
//     Writes to the UDP port leave in sendmmsg batches (sendbatch.go).
//     Each offer is answered with the candidates it can use: only loopback
//     ones to a client that offers only loopback (one on this machine),
//     none to a client that offers none (kindMux), no ICE-TCP to a viewer
//     whose complete offer has no TCP candidate.
//   - What a viewer costs (peers.go): its answer lists the show's codecs
//     only (the publisher's video codec and audio; no RTX), from an API
//     built once per codec set and shared; the server is the DTLS server
//     (a=setup:passive, no cookie exchange: ICE has checked the address),
//     SRTP is AES-128-GCM when the client offers it (else AES-CM), one
//     DTLS certificate serves every session of the node, one goroutine
//     reads a viewer's RTCP (viewer.readRTCP), and every ICE agent shares
//     one list of the host's interfaces. TestViewerCost (cost_test.go)
//     measures a viewer's heap, goroutines, allocations and RSS on the
//     server's side, its viewers in a second process.
//   - Relays (relay.go): a node asked for a show published on another
//     pulls it once, every simulcast layer, from the parent the Directory
//     places it under (the origin or a relay with room, breadth-first; at
//     most Node.RelayFanout children per node), and fans it out to its own
//     viewers and child nodes. A node whose parent goes silent re-attaches
//     elsewhere; its viewers keep their sessions.
//
// A host moves a broadcast to another device without its stream key by
// taking it over (takeover.go). A show's guest (a co-host, internal/cohost)
// publishes a feed of its own beside the host's, POST /whip/{show}?guest=1
// with the guest key, watched with POST /whep/{show}?guest=1 (guest.go).
//
// Not built: ICE restarts (a PATCH asking for one gets 422), renegotiation
// for tracks a publisher adds after a viewer joined (or layers after a
// relay attached), and rebalancing a relay tree.
package stream
