// Package socketio is a socket.io v4 server (Engine.IO protocol 4) over
// websocket only, as nethcti clients use it (transports:['websocket']): the
// Engine.IO handshake, pings and pongs, socket.io namespace connect, events with
// and without ack ids, rooms and broadcast of a frame encoded once for every
// recipient. It is transport only: what events mean, who may connect and who
// joins which room is its user's business (the CTI).
//
// Engine.IO packets are one websocket text message each: 0 open, 1 close, 2
// ping, 3 pong, 4 message; a socket.io packet rides in a message: "40" connect,
// "41" disconnect, "42[name,data]" event, "42<id>[...]" event with ack, "43<id>[...]"
// ack. Binary attachments and namespaces other than "/" are refused. A client
// that sends a malformed frame is disconnected; one that reads too slowly is
// dropped rather than slowing every broadcast.
package socketio
