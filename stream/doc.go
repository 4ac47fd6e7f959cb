// Package stream is the WebRTC SFU on pion/webrtc v4: WHIP ingest, WHEP
// egress, fan-out with per-viewer queues, keyframe handling, simulcast layer
// choice and relay between nodes.
//
// Status: not built yet (issue 5). The /whip and /whep routes answer 501.
package stream
