// A real nethcti-style client for the cti tests: npm socket.io-client 4.7.x.
// It logs in and prints every event as one JSON line.
// Usage: node client.js URL USER TOKEN [websocket|default|polling]
//   websocket: transports ['websocket'] (what phone-island and NethLink use);
//   default:   the client's default transports: long polling, then the
//              upgrade to websocket;
//   polling:   long polling only.
const { io } = require('socket.io-client');

const [url, user, token, mode] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const opts = { reconnection: false, path: '/socket.io' };
if (mode === 'polling') {
  opts.transports = ['polling'];
} else if (mode !== 'default') {
  opts.transports = ['websocket'];
}
const sock = io(url, opts);

// The Engine.IO connection opens on its first transport; with the default
// transports it then upgrades.
sock.io.on('open', () => {
  const engine = sock.io.engine;
  out({ event: 'open', transport: engine.transport.name });
  engine.on('upgrade', (t) => out({ event: 'upgrade', transport: t.name }));
});
sock.on('connect', () => {
  out({ event: 'connect', transport: sock.io.engine.transport.name });
  sock.emit('login', { accessKeyId: user, token: token, uaType: 'desktop' });
});
sock.on('authe_ok', (data) => {
  out({ event: 'authe_ok', data: data });
  // phone-island's keep-alive: an application "ping" that must be acked.
  sock.timeout(3000).emit('ping', (err) => out({ event: err ? 'ping_timeout' : 'pong', transport: sock.io.engine.transport.name }));
});
for (const name of ['401', 'takeOver', 'extenUpdate', 'extenRinging', 'extenConnected', 'extenHangup',
  'queueUpdate', 'queueMemberUpdate', 'parkingUpdate', 'trunkUpdate', 'userPresenceUpdate', 'userMainPresenceUpdate', 'callWebrtc']) {
  sock.on(name, (data) => out({ event: name, data: data }));
}
sock.on('disconnect', (reason) => { out({ event: 'disconnect', reason: reason }); process.exit(0); });
sock.on('connect_error', (err) => { out({ event: 'connect_error', message: err.message }); process.exit(1); });
// A line on stdin asks for a ping (its pong names the transport then).
process.stdin.on('data', () => {
  sock.timeout(3000).emit('ping', (err) => out({ event: err ? 'ping_timeout' : 'pong', transport: sock.io.engine.transport.name }));
});
// Closing stdin (the test ending) ends the client.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(2), 120000);
