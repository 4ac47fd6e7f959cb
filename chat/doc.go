// Package chat is the live-room gateway: rooms per show, the websocket
// protocol, history and resume, moderation, reactions and the delivery of
// commerce events. It owns the Bus interface that carries room events between
// nodes; it never imports a bus or store driver.
//
// Status: only the Bus contract exists so far (issue 2). The websocket gateway
// is issue 4.
package chat
