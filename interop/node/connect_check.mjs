// The device's client role against a Node `ws` server: the same checks as
// interop/python/connect_check.py (echo 0 B to 1 MiB, a fragmented text message, reconnecting
// after a restart within the backoff's bound), over ws:// or, with --tls, wss://.
//
//   node connect_check.mjs --sim target/release/espws-sim [--tls CERT KEY --ca CA] [--log-dir DIR]
//
// Exit code 0 when every check passed.
import { spawn } from 'node:child_process';
import { createServer as createHttps } from 'node:https';
import { createServer as createHttp } from 'node:http';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { WebSocketServer } from 'ws';

const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20];
const DOWN_S = 1.0;
// espws::client::reconnect::Policy::default: 0.5 s doubling; the jitter only shortens delays.
function backoffBound(down) {
  let elapsed = 0, delay = 0.5;
  while (elapsed + delay / 2 <= down) { elapsed += delay / 2; delay *= 2; }
  return delay;
}

const args = process.argv.slice(2);
const opt = (name, n = 1) => { const i = args.indexOf(name); return i < 0 ? null : args.slice(i + 1, i + 1 + n); };
const sim = opt('--sim')?.[0];
const tls = opt('--tls', 2);
const ca = opt('--ca')?.[0];
const logDir = opt('--log-dir')?.[0] ?? 'reports';
if (!sim) { console.error('usage: node connect_check.mjs --sim SIM [--tls CERT KEY --ca CA]'); process.exit(2); }
fs.mkdirSync(logDir, { recursive: true });

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const results = [];
const opened = [];
let onOpen = null;

function listen(port) {
  const http = tls
    ? createHttps({ cert: fs.readFileSync(tls[0]), key: fs.readFileSync(tls[1]) })
    : createHttp();
  const wss = new WebSocketServer({ server: http, maxPayload: 4 << 20 });
  wss.on('connection', (ws) => { opened.push(performance.now()); onOpen?.(ws); });
  return new Promise((resolve) => http.listen(port, '127.0.0.1', () => resolve({ http, wss })));
}

async function stop({ http, wss }) {
  for (const client of wss.clients) client.close(1001, 'restarting');
  await new Promise((r) => setTimeout(r, 100));
  for (const client of wss.clients) client.terminate();
  await new Promise((r) => wss.close(() => http.close(() => r())));
}

function nextMessage(ws) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10000);
    ws.once('message', (data, isBinary) => { clearTimeout(timer); resolve({ data, isBinary }); });
  });
}

async function checks(ws) {
  for (const kind of ['binary', 'text']) {
    for (const n of SIZES) {
      const payload = kind === 'binary' ? randomBytes(n) : Buffer.from('é'.repeat(n >> 1) + 'a'.repeat(n & 1));
      const echo = nextMessage(ws);
      ws.send(payload, { binary: kind === 'binary' });
      const { data, isBinary } = await echo;
      const ok = Buffer.compare(Buffer.from(data), payload) === 0 && isBinary === (kind === 'binary');
      results.push([`echo-${kind}-${n}`, ok, `${payload.length} bytes ${ok ? 'echoed identically' : 'came back different'}`]);
    }
  }
  // U+20AC is e2 82 ac: the first frame ends inside it.
  const whole = Buffer.from('price: \u20ac 42, three frames');
  const cut = whole.indexOf(0xe2) + 2;
  const echo = nextMessage(ws);
  ws.send(whole.subarray(0, cut), { binary: false, fin: false });
  ws.send(whole.subarray(cut, cut + 5), { binary: false, fin: false });
  ws.send(whole.subarray(cut + 5), { binary: false, fin: true });
  const { data } = await echo;
  const ok = Buffer.compare(Buffer.from(data), whole) === 0;
  results.push(['fragmented-text', ok, `3 frames sent (split inside U+20AC), ${ok ? 'whole' : 'wrong'} message back`]);
}

const port = await freePort();
const url = `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/`;
let server = await listen(port);
const first = new Promise((resolve) => { onOpen = (ws) => { onOpen = null; checks(ws).then(resolve, (e) => { results.push(['echo', false, String(e)]); resolve(); }); }; });
const simArgs = ['--connect', url, '--max-message', String(2 << 20), ...(ca ? ['--ca-file', ca] : [])];
const log = fs.openSync(path.join(logDir, `connect-node-${tls ? 'wss' : 'ws'}.log`), 'w');
const device = spawn(sim, simArgs, { stdio: ['ignore', log, log] });
try {
  await Promise.race([first, new Promise((_, reject) => setTimeout(() => reject(new Error('the device did not connect within 30 s')), 30000))])
    .catch((e) => results.push(['echo', false, String(e)]));
  await stop(server);
  await new Promise((r) => setTimeout(r, DOWN_S * 1000));
  const restarted = performance.now();
  const reopened = new Promise((resolve) => { onOpen = () => resolve(true); });
  server = await listen(port);
  const bound = backoffBound(DOWN_S);
  const again = await Promise.race([reopened, new Promise((r) => setTimeout(() => r(false), (bound + 5) * 1000))]);
  if (again) {
    const took = (opened.at(-1) - restarted) / 1000;
    results.push(['reconnect', took <= bound + 0.5, `down ${DOWN_S} s; open again ${took.toFixed(2)} s after the restart (backoff bound ${bound} s, plus 0.5 s for the dial)`]);
  } else {
    results.push(['reconnect', false, `no new connection within ${bound + 5} s of the restart`]);
  }
  await stop(server);
} finally {
  device.kill('SIGKILL');
}
let failed = 0;
for (const [name, ok, detail] of results) { console.log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`); if (!ok) failed++; }
console.log(`connect_check node (${tls ? 'wss' : 'ws'}): ${results.length - failed} passed, ${failed} failed`);
process.exit(failed || !results.length ? 1 : 0);
