package chat

import (
	"github.com/gorilla/websocket"
)

// A panic in code that serves one connection ends that connection, never
// the node: the reader and the writer recover, log and count it
// (pavilion_panics_total, internal/crashguard), answer an internal error
// frame, and close with CloseInternal. The room's bus receiver and timers
// recover too and carry on with the next event.

// CloseInternal is the close code after a server bug while serving the
// connection (RFC 6455's 1011): reconnect and resume.
const CloseInternal = websocket.CloseInternalServerErr

// internalError is the answer to a frame whose handling hit a server bug.
func internalError(id string) []byte {
	return mustJSON(map[string]any{"type": "error", "id": id, "code": "internal", "message": "internal error"})
}

// crashed ends the connection after a panic its reader or writer recovered:
// the client hears an internal error (for request id, if one was being
// handled) and the connection closes with CloseInternal.
func (c *conn) crashed(component string, p any, id, frameType string) {
	args := []any{"show", c.room.showID}
	if c.user != nil {
		args = append(args, "user", c.user.ID)
	}
	if frameType != "" {
		args = append(args, "frame", frameType)
	}
	c.room.hub.guard.Recovered(component, p, args...)
	if component == "chat_writer" {
		// The writer is gone: write the answer here, best effort (the
		// panic may have cut a write short; the close follows anyway).
		_ = c.writeRaw(textFrame(internalError(id)))
	} else {
		c.reply(internalError(id))
	}
	c.stop(CloseInternal, "internal error; reconnect and resume")
}

// receiveGuarded handles one bus message; a panic drops that message (the
// room's history gets a hole, so later resumes before it get a snapshot)
// and the room serves on.
func (r *Room) receiveGuarded(msg []byte) {
	defer r.hub.guard.Recover("chat_bus", "show", r.showID)
	r.receive(msg)
}
