// Package deploy holds what an operator needs to run Pavilion: the container
// image (Dockerfile), a compose file, a systemd unit, Kubernetes manifests,
// reverse-proxy examples (Caddy, nginx) and local-cluster.sh, which runs a
// three-node cluster on loopback. It has no Go code of its own: its tests
// check that those files parse and say what the server expects.
package deploy
