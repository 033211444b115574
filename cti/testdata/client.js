// A real nethcti-style client for the cti tests: npm socket.io-client 4.7.x over
// the websocket transport. It logs in and prints every event as one JSON line.
// Usage: node client.js URL USER TOKEN
const { io } = require('socket.io-client');

const [url, user, token] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sock = io(url, { transports: ['websocket'], reconnection: false, path: '/socket.io' });

sock.on('connect', () => {
  out({ event: 'connect' });
  sock.emit('login', { accessKeyId: user, token: token, uaType: 'desktop' });
});
for (const name of ['authe_ok', '401', 'takeOver', 'extenUpdate', 'extenRinging', 'extenConnected', 'extenHangup',
  'queueUpdate', 'queueMemberUpdate', 'parkingUpdate', 'trunkUpdate', 'userPresenceUpdate', 'callWebrtc']) {
  sock.on(name, (data) => out({ event: name, data: data }));
}
sock.on('disconnect', (reason) => { out({ event: 'disconnect', reason: reason }); process.exit(0); });
sock.on('connect_error', (err) => { out({ event: 'connect_error', message: err.message }); process.exit(1); });
// Closing stdin (the test ending) ends the client.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(2), 60000);
