// Package stream is the WebRTC SFU on pion/webrtc v4: WHIP ingest (RFC 9725)
// and WHEP egress with fan-out of the publisher's RTP to every viewer, without
// transcoding.
//
// What is built (first part of issue 5):
//
//   - POST /whip/{show} with "Authorization: Bearer <stream key>" and an
//     application/sdp offer (at most 64 KiB) answers 201 Created, a Location
//     /whip/{show}/{session} and the SDP answer (non-trickle: the answer holds
//     all candidates). One publisher per show: a second one while the first is
//     live gets 409. A missing or wrong key gets 401 and changes nothing.
//   - POST /whep/{show} does the same for a viewer (Location /whep/{show}/{session}).
//     No publisher for the show: 404. A publisher whose media has not arrived
//     within TrackWait: 503 with Retry-After.
//   - DELETE on a Location ends that session. The session URL is the
//     capability (an unguessable random id). Ending a publisher ends all its
//     viewers.
//   - Errors: 400 malformed SDP, 401 bad key, 404 no publisher/session,
//     409 already publishing, 413 body over 64 KiB, 415 wrong content type.
//   - One UDP port for all media (ICE UDP mux on UDPAddr), STUN/TURN servers
//     in ICEServers.
//   - Fan-out: one TrackLocalStaticRTP per publisher track; pion writes each
//     packet to every bound viewer. Viewers' PLI/FIR are forwarded to the
//     publisher at most once per PLIInterval per track (trailing request kept),
//     and every new viewer triggers a keyframe request.
//   - Sessions also end when ICE fails or the PeerConnection closes.
//
// Not built yet: PATCH trickle ICE, ICE-TCP, NAT 1:1 IP, per-viewer queues
// with drop-to-keyframe, keyframe cache, simulcast, relay between nodes, and
// tracks that arrive after a viewer joined (they would need renegotiation).
package stream
