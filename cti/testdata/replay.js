// Replays, against a CTI, the request and event sequences of the real nethcti
// clients and checks every field they read. Written from the protocol facts
// of the compatibility audit (what each client sends and reads), not from the
// clients' code; derived from these versions:
//   nethlink 0.2.3 (7ccea1b): src/shared/useNethVoiceAPI.ts, NethLinkPage.tsx
//   phone-island 1.0.9 (a5f466f): RestAPI.tsx, Socket.tsx, services/*.ts
// Usage: node replay.js BASE USER PASSWORD
// The test that runs it drives the PBX double so that each action causes the
// events Asterisk would send; it prints one JSON line per check and exits 1
// when one failed.
const crypto = require('crypto');
const { io } = require('socket.io-client');

const [base, user, password] = process.argv.slice(2);
const failures = [];
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
function check(name, cond, detail) {
  out({ check: name, ok: !!cond, detail: cond ? undefined : detail });
  if (!cond) failures.push(name);
}
const isStr = (v) => typeof v === 'string';
const isNum = (v) => typeof v === 'number';
const isBool = (v) => typeof v === 'boolean';
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
// shape reports the fields of o that are missing or of the wrong type.
function shape(o, spec) {
  if (!isObj(o)) return ['not an object'];
  const bad = [];
  for (const [k, t] of Object.entries(spec)) {
    const ok = { s: isStr, n: isNum, b: isBool, o: isObj, a: Array.isArray, 'o|null': (v) => v === null || isObj(v) }[t](o[k]);
    if (!ok) bad.push(`${k}:${t}=${JSON.stringify(o[k])}`);
  }
  return bad;
}
function checkShape(name, o, spec) {
  const bad = shape(o, spec);
  check(name, bad.length === 0, bad.join(' '));
}

let auth = '';
async function req(method, path, body, headers = {}) {
  const h = { 'Content-Type': 'application/json', ...headers };
  if (auth && !h.Authorization) h.Authorization = auth;
  const res = await fetch(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}
const GET = (p, h) => req('GET', p, undefined, h);
const POST = (p, b, h) => req('POST', p, b === undefined ? {} : b, h);

// Socket events, kept so a step can wait for the one it causes.
const events = [];
let waiters = [];
function record(name, args) {
  if (process.env.REPLAY_DEBUG) out({ event: name, args });
  events.push({ name, args });
  waiters = waiters.filter((w) => !(w.name === name && w.pred(...args) && (w.resolve(args), true)));
}
function waitEvent(name, pred = () => true, ms = 5000) {
  // An event that came already is taken; the others stay for later waits
  // (each step clears the list before the action it checks).
  const i = events.findIndex((e) => e.name === name && pred(...e.args));
  if (i >= 0) return Promise.resolve(events.splice(i, 1)[0].args);
  return new Promise((resolve, reject) => {
    const w = { name, pred, resolve };
    waiters.push(w);
    setTimeout(() => reject(new Error(`no ${name} within ${ms} ms`)), ms);
  });
}
async function expectEvent(label, name, pred, ms) {
  try {
    return await waitEvent(name, pred, ms);
  } catch (e) {
    check(label, false, e.message);
    return null;
  }
}

const EXT_SPEC = { exten: 's', name: 's', username: 's', status: 's', dnd: 'b', cf: 's', cfb: 's', cfu: 's', cfVm: 's',
  ip: 's', port: 's', codecs: 'a', context: 's', chanType: 's', sipuseragent: 's', conversations: 'o' };
const CONV_SPEC = { id: 's', owner: 's', chSource: 'o|null', chDest: 'o|null', queueId: 's', linkedId: 's', uniqueId: 's',
  duration: 'n', startTime: 'n', connected: 'b', recording: 's', direction: 's', inConference: 'b', throughQueue: 'b',
  throughTrunk: 'b', counterpartNum: 's', counterpartName: 's' };
const CHAN_SPEC = { type: 's', channel: 's', callerNum: 's', callerName: 's', startTime: 'n', bridgedNum: 's', bridgedName: 's',
  inConference: 'b', channelStatus: 's', bridgedChannel: 's' };
const MEMBER_SPEC = { type: 's', name: 's', queue: 's', member: 's', paused: 'b', loggedIn: 'b', callsTakenCount: 'n',
  lastCallTimestamp: 'n', lastPausedInReason: 's', lastPausedInTimestamp: 'n', lastPausedOutTimestamp: 'n' };
const QUEUE_SPEC = { name: 's', queue: 's', members: 'o', waitingCallers: 'o', avgHoldTime: 'n', avgTalkTime: 'n',
  completedCallsCount: 'n', abandonedCallsCount: 'n', serviceLevelTimePeriod: 'n', serviceLevelPercentage: 's' };
const ROW_SPEC = { time: 'n', channel: 's', dstchannel: 's', uniqueid: 's', linkedid: 's', userfield: 's', duration: 'n',
  billsec: 'n', disposition: 's', dcontext: 's', recordingfile: 's', src: 's', dst: 's', cnum: 's', cnam: 's', ccompany: 's',
  dst_cnam: 's', dst_ccompany: 's', clid: 's', direction: 's', queue: 's' };

function convOf(ext) {
  const convs = Object.values(ext.conversations || {});
  return convs.find((c) => c.connected) || convs[0];
}

async function nethlink() {
  // Login: nonce in a 401, HMAC-SHA1 token signed with the name typed.
  const login = await POST('/webrest/authentication/login', { username: user, password });
  const digest = login.headers.get('www-authenticate') || '';
  const nonce = digest.split(' ')[1];
  check('login answers 401 with the nonce', login.status === 401 && /^[0-9a-f]{40}$/.test(nonce || ''), `${login.status} ${digest}`);
  const token = crypto.createHmac('sha1', password).update(`${user}:${password}:${nonce}`).digest('hex');
  auth = `${user}:${token}`;

  const me = (await GET('/webrest/user/me')).json;
  checkShape('me', me, { name: 's', username: 's', presence: 's', mainPresence: 's', endpoints: 'o', profile: 'o', default_device: 'o', settings: 'o' });
  const eps = me.endpoints || {};
  checkShape('me.endpoints', eps, { extension: 'a', mainextension: 'a', cellphone: 'a', voicemail: 'a', email: 'a' });
  const nl = (eps.extension || []).find((e) => e.type === 'nethlink');
  check('me: a nethlink extension with its SIP credentials', nl && isStr(nl.secret) && nl.secret.length > 0 && isStr(nl.username) && nl.username.length > 0, JSON.stringify(nl));
  const wr = (eps.extension || []).find((e) => e.type === 'webrtc');
  check('me: the webrtc extension with its SIP credentials', wr && isStr(wr.secret) && wr.secret.length > 0, JSON.stringify(wr));
  check('me: mainextension[0].id', eps.mainextension && isStr(eps.mainextension[0]?.id), JSON.stringify(eps.mainextension));
  check('me: actions of each extension', (eps.extension || []).every((e) => isObj(e.actions) && isBool(e.actions.answer) && isBool(e.actions.hold) && isBool(e.actions.dtmf)), JSON.stringify(eps.extension));
  check('me: profile.macro_permissions', isObj(me.profile?.macro_permissions), JSON.stringify(me.profile));
  checkShape('me.default_device', me.default_device, { id: 's', type: 's' });

  const pit = await POST('/webrest/authentication/phone_island_token_login');
  check('phone_island_token_login -> {token, username}', pit.status === 200 && isStr(pit.json?.token) && pit.json.token.length >= 40 && pit.json.username === user, pit.text);
  const exists = await GET('/webrest/authentication/phone_island_token_check');
  check('phone_island_token_check -> {exists: true}', exists.json?.exists === true, exists.text);

  const all = (await GET('/webrest/user/endpoints/all')).json;
  check('endpoints/all keyed by username', isObj(all) && isObj(all[user]), JSON.stringify(all));
  for (const [name, u] of Object.entries(all || {})) {
    checkShape(`endpoints/all ${name}`, u, { name: 's', username: 's', mainPresence: 's', presence: 's', endpoints: 'o' });
    const secretsOk = (u.endpoints?.extension || []).every((e) => e.secret === undefined || (name === user ? true : e.secret === ''));
    check(`endpoints/all ${name}: no SIP secret of another user`, secretsOk, JSON.stringify(u.endpoints?.extension));
  }
  const groups = (await GET('/webrest/astproxy/opgroups')).json;
  check('opgroups {group: {users: [...]}}', isObj(groups) && Object.values(groups).every((g) => Array.isArray(g.users)) && Object.keys(groups).length > 0, JSON.stringify(groups));
  const exts = (await GET('/webrest/astproxy/extensions')).json;
  check('extensions keyed by exten', isObj(exts) && Object.keys(exts).length > 0, JSON.stringify(exts));
  for (const [k, x] of Object.entries(exts || {})) {
    checkShape(`extension ${k}`, x, EXT_SPEC);
  }
  const mine = Object.values(exts || {}).filter((x) => x.username === user).map((x) => x.exten);
  check('extensions: the user\'s own carry its username', mine.length >= 1, JSON.stringify(mine));
  const avatars = await GET('/webrest/user/all_avatars');
  check('all_avatars is an object', avatars.status === 200 && isObj(avatars.json), avatars.text);

  const d = new Date();
  const ymd = (t) => t.toISOString().slice(0, 10).replace(/-/g, '');
  const from = ymd(new Date(d.getTime() - 60 * 86400e3));
  const hist = await GET(`/webrest/historycall/interval/user/${user}/${from}/${ymd(d)}?offset=0&limit=15&sort=time%20desc&removeLostCalls=undefined`);
  check('historycall {count, rows}', hist.status === 200 && isNum(hist.json?.count) && Array.isArray(hist.json?.rows), hist.text);
  for (const r of (hist.json?.rows || []).slice(0, 3)) checkShape('history row', r, ROW_SPEC);
  check('history has the seeded call', (hist.json?.rows || []).length > 0, hist.text);

  // NethLink's speed dials: create one as its "add speed dial" form does,
  // then the list it shows.
  const sdNew = await POST('/webrest/phonebook/create', { type: 'speeddial', name: 'Reception', speeddial_num: '200' });
  check('phonebook/create speed dial', sdNew.status === 200 || sdNew.status === 201, sdNew.text);
  const sd = await GET('/webrest/phonebook/speeddials');
  check('phonebook/speeddials is a list', sd.status === 200 && Array.isArray(sd.json), sd.text);
  const dial = (sd.json || []).find((c) => c.name === 'Reception');
  check('speed dial listed with its number and id', dial && dial.speeddial_num === '200' && dial.id !== undefined, sd.text);

  const queues = (await GET('/webrest/astproxy/queues')).json;
  check('queues keyed by queue', isObj(queues) && Object.keys(queues).length > 0, JSON.stringify(queues));
  for (const [k, q] of Object.entries(queues || {})) checkShape(`queue ${k}`, q, QUEUE_SPEC);

  // NethLink's search box: a contact of the user's, then the search it runs.
  const ct = await POST('/webrest/phonebook/create', { type: 'private', name: 'Mario Rossi', company: 'Rossi Srl', workphone: '0612345', cellphone: '3331234567' });
  check('phonebook/create contact', ct.status === 200 || ct.status === 201, ct.text);
  const pb = await GET('/webrest/phonebook/search/ro?offset=0&limit=10&view=all');
  check('phonebook/search {count, rows}', pb.status === 200 && isNum(pb.json?.count) && Array.isArray(pb.json?.rows), pb.text);
  const mario = (pb.json?.rows || []).find((c) => c.name === 'Mario Rossi');
  check('search finds the contact with the fields NethLink shows',
    mario && mario.company === 'Rossi Srl' && mario.workphone === '0612345' && mario.cellphone === '3331234567' && mario.id !== undefined && isStr(mario.source),
    pb.text);

  const hb = await POST('/webrest/user/nethlink', { extension: nl?.id });
  check('nethlink heartbeat', hb.status === 200, hb.text);
  const hbGet = await GET('/webrest/user/nethlink');
  check('nethlink heartbeat read back', hbGet.json?.extension === nl?.id && isStr(hbGet.json?.timestamp), hbGet.text);
  return { me, token, islandToken: pit.json?.token, mainExt: eps.mainextension?.[0]?.id, webrtc: wr?.id };
}

async function phoneIsland(ctx) {
  // Legacy mode: the probe of the new API must fail with 401 or 404.
  const probe = await GET('/api/user/me', { Authorization: `Bearer ${ctx.islandToken}` });
  check('probe of /api/user/me fails (legacy mode)', probe.status === 401 || probe.status === 404, probe.status);
  auth = `${user}:${ctx.islandToken}`; // phone-island uses the phone-island token
  const me = await GET('/webrest/user/me');
  check('phone-island token works on REST', me.status === 200, me.status);
  const sources = await GET('/webrest/streaming/sources');
  check('streaming/sources is an object', sources.status === 200 && isObj(sources.json), sources.text);
  const fc = await GET('/webrest/astproxy/feature_codes');
  check('feature_codes has audio_test', fc.status === 200 && isStr(fc.json?.audio_test), fc.text);
  const pu = await GET('/webrest/user/paramurl');
  check('paramurl is an object', pu.status === 200 && isObj(pu.json), pu.text);

  const sock = io(base, { upgrade: false, transports: ['websocket'], reconnection: true, reconnectionDelay: 2000 });
  sock.onAny((name, ...args) => record(name, args));
  sock.on('connect', () => sock.emit('login', { accessKeyId: user, token: ctx.islandToken, uaType: 'desktop' }));
  const ok = await expectEvent('socket login -> authe_ok', 'authe_ok', () => true);
  check('socket login -> authe_ok', ok && isObj(ok[0]) && isStr(ok[0].message), JSON.stringify(ok));
  const acked = await new Promise((resolve) => sock.timeout(5000).volatile.emit('ping', (err) => resolve(!err)));
  check('application ping acknowledged within 5 s', acked, 'no ack');

  // Presence: DND and back, heard as userMainPresenceUpdate.
  events.length = 0;
  const dnd = await POST('/webrest/user/presence', { status: 'dnd' });
  check('presence dnd', dnd.status === 200, dnd.text);
  const mp = await expectEvent('userMainPresenceUpdate dnd', 'userMainPresenceUpdate', (m) => m?.mainPresence?.username === user && m.mainPresence.status === 'dnd');
  if (mp) checkShape('userMainPresenceUpdate.mainPresence', mp[0].mainPresence, { username: 's', status: 's' });
  await POST('/webrest/user/presence', { status: 'online' });
  await expectEvent('userMainPresenceUpdate online', 'userMainPresenceUpdate', (m) => m?.mainPresence?.username === user && m.mainPresence.status === 'online');

  // Click-to-call from the desk phone with endpointType "extension".
  events.length = 0;
  const call = await POST('/webrest/astproxy/call', { endpointId: ctx.mainExt, endpointType: 'extension', number: '202' });
  check('call endpointType extension', call.status === 200, call.text);
  const con = await expectEvent('extenConnected of the caller', 'extenConnected', (e) => e?.extenConnected === ctx.mainExt);
  check('extenConnected {extenConnected}', con && isStr(con[0].extenConnected), JSON.stringify(con));
  const up = await expectEvent('extenUpdate of the call', 'extenUpdate', (x) => x.username === user && x.exten === ctx.mainExt && convOf(x)?.connected);
  let conv;
  if (up) {
    const x = up[0];
    checkShape('extenUpdate', x, EXT_SPEC);
    conv = convOf(x);
    checkShape('conversation', conv, CONV_SPEC);
    checkShape('conversation.chSource', conv.chSource, CHAN_SPEC);
    checkShape('conversation.chDest', conv.chDest, CHAN_SPEC);
    check('conversation: out to 202', conv.direction === 'out' && conv.counterpartNum === '202' && conv.owner === ctx.mainExt, JSON.stringify(conv));
  }
  await expectEvent('main presence busy', 'userMainPresenceUpdate', (m) => m?.mainPresence?.username === user && m.mainPresence.status === 'busy');
  if (!conv) return sock;

  for (const [op, body] of [['toggle_hold', {}], ['toggle_mute', {}], ['dtmf', { tone: '5' }], ['start_record', {}], ['mute_record', {}], ['unmute_record', {}]]) {
    const r = await POST(`/webrest/astproxy/${op}`, { convid: conv.id, endpointId: ctx.mainExt, ...body });
    check(`${op} on the call`, r.status === 200, r.text);
  }
  // Blind transfer to 203: the user's leg ends.
  events.length = 0;
  const bt = await POST('/webrest/astproxy/blindtransfer', { convid: conv.id, endpointId: ctx.mainExt, to: '203' });
  check('blindtransfer', bt.status === 200, bt.text);
  const h = await expectEvent('extenHangup after the transfer', 'extenHangup', (e) => e?.channelExten === ctx.mainExt);
  if (h) {
    checkShape('extenHangup', h[0], { cause: 's', callerNum: 's', channelExten: 's', calledNum: 's' });
    check('extenHangup: own number, normal clearing', h[0].callerNum === ctx.mainExt && h[0].cause === 'normal_clearing', JSON.stringify(h[0]));
  }

  // A second call, hung up by the user.
  events.length = 0;
  await POST('/webrest/astproxy/call', { endpointId: ctx.mainExt, endpointType: 'extension', number: '204' });
  const up2 = await expectEvent('second call up', 'extenUpdate', (x) => x.exten === ctx.mainExt && convOf(x)?.connected && convOf(x).counterpartNum === '204');
  if (up2) {
    const r = await POST('/webrest/astproxy/hangup', { convid: convOf(up2[0]).id, endpointId: ctx.mainExt });
    check('hangup', r.status === 200, r.text);
    await expectEvent('extenHangup after hangup', 'extenHangup', (e) => e?.channelExten === ctx.mainExt && e.cause === 'normal_clearing');
    await expectEvent('idle again', 'extenUpdate', (x) => x.exten === ctx.mainExt && Object.keys(x.conversations).length === 0);
  }

  // Queue login and pause, heard as queueMemberUpdate; members by extension.
  events.length = 0;
  const qa = await POST('/webrest/astproxy/queuemember_add', { endpointId: ctx.mainExt, queueId: '401' });
  check('queuemember_add', qa.status === 200, qa.text);
  const qm = await expectEvent('queueMemberUpdate login', 'queueMemberUpdate', (m) => m.member === ctx.mainExt && m.loggedIn);
  if (qm) checkShape('queueMemberUpdate', qm[0], MEMBER_SPEC);
  await POST('/webrest/astproxy/queuemember_pause', { endpointId: ctx.mainExt, queueId: '401', reason: 'lunch' });
  const qp = await expectEvent('queueMemberUpdate pause', 'queueMemberUpdate', (m) => m.member === ctx.mainExt && m.paused);
  check('pause reason', qp && qp[0].lastPausedInReason === 'lunch' && qp[0].lastPausedInTimestamp > 0, JSON.stringify(qp));
  const q = (await GET('/webrest/astproxy/queues')).json;
  check('queue members keyed by extension', isObj(q?.['401']?.members?.[ctx.mainExt]), JSON.stringify(q?.['401']?.members));
  await POST('/webrest/astproxy/queuemember_unpause', { endpointId: ctx.mainExt, queueId: '401' });
  await expectEvent('queueMemberUpdate unpause', 'queueMemberUpdate', (m) => m.member === ctx.mainExt && !m.paused);

  // Park and pick up.
  events.length = 0;
  await POST('/webrest/astproxy/call', { endpointId: ctx.mainExt, endpointType: 'extension', number: '202' });
  const up3 = await expectEvent('third call up', 'extenUpdate', (x) => x.exten === ctx.mainExt && convOf(x)?.connected);
  if (up3) {
    const c3 = convOf(up3[0]);
    const pk = await POST('/webrest/astproxy/park', { convid: c3.id, endpointId: ctx.mainExt, applicantId: ctx.mainExt });
    check('park', pk.status === 200, pk.text);
    await expectEvent('parkingUpdate', 'parkingUpdate', (p) => p.parking === '701');
    const parkings = (await GET('/webrest/astproxy/parkings')).json;
    const p = parkings?.['701'];
    checkShape('parking', p, { name: 's', parking: 's', timeout: 'n', parkedCaller: 'o' });
    if (p) checkShape('parkedCaller', p.parkedCaller, { num: 's', name: 's', parking: 's', channel: 's', timeout: 'n', parkeeNum: 's', parkeeName: 's' });
    check('parked call is 202', p?.parkedCaller?.num === '202', JSON.stringify(p));
    const free = Object.values(parkings || {}).filter((x) => x.parking !== '701');
    check('free parkings have parkedCaller {}', free.length > 0 && free.every((x) => isObj(x.parkedCaller) && Object.keys(x.parkedCaller).length === 0), JSON.stringify(free.slice(0, 2)));
    const pu = await POST('/webrest/astproxy/pickup_parking', { parking: '701', destId: ctx.mainExt });
    check('pickup_parking', pu.status === 200, pu.text);
    await expectEvent('picked up', 'extenUpdate', (x) => x.exten === ctx.mainExt && convOf(x)?.connected && convOf(x).counterpartNum === '202');
    const after = (await GET('/webrest/astproxy/parkings')).json;
    check('parking free again', isObj(after?.['701']?.parkedCaller) && !after['701'].parkedCaller.channel, JSON.stringify(after?.['701']));
  }

  // Click-to-call on the web phone: callWebrtc carries the cleaned number.
  events.length = 0;
  const wc = await POST('/webrest/astproxy/call', { endpointId: ctx.webrtc, endpointType: 'extension', number: 'callto:+39 06 1234' });
  check('call on the web phone', wc.status === 200, wc.text);
  const cw = await expectEvent('callWebrtc', 'callWebrtc', () => true);
  check('callWebrtc is the number as a string', cw && cw[0] === '0039061234', JSON.stringify(cw));
  return sock;
}

(async () => {
  try {
    const ctx = await nethlink();
    const sock = await phoneIsland(ctx);
    // The middleware's logout: the phone-island token is revoked by type.
    auth = `${user}:${ctx.token}`;
    const rm = await POST('/webrest/authentication/persistent_token_remove', { type: 'phone-island' });
    check('persistent_token_remove phone-island', rm.status === 200, rm.text);
    const gone = await GET('/webrest/user/me', { Authorization: `${user}:${ctx.islandToken}` });
    check('revoked phone-island token refused', gone.status === 401, gone.status);
    sock.close();
  } catch (e) {
    check('replay ran to the end', false, e.stack);
  }
  out({ done: true, failures });
  process.exit(failures.length ? 1 : 0);
})();
