#!/usr/bin/env node
// Interop checks of a WebSocket echo server, using the Node `ws` library.
//
// Usage: node check.mjs ws://HOST:PORT/PATH
//
// Every check opens its own connection, so one failure does not cascade into
// the next. Every wait is bounded by ESPWS_INTEROP_TIMEOUT seconds (default 10).
// Exit code: 0 if all checks pass, 1 if any fails, 2 on bad usage.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const require = createRequire(import.meta.url);
const WS_VERSION = require('ws/package.json').version;
const CLIENT = `node-ws-${WS_VERSION}`;
const TIMEOUT_S = Number(process.env.ESPWS_INTEROP_TIMEOUT ?? '10');
const TIMEOUT_MS = TIMEOUT_S * 1000;
const SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1048576];

// No compression (so frame lengths on the wire are the sizes above, exercising
// the 7-bit / 16-bit / 64-bit length encodings); bounded handshake and close.
const WS_OPTS = {
  perMessageDeflate: false,
  handshakeTimeout: TIMEOUT_MS,
  closeTimeout: TIMEOUT_MS,
};

class CheckFailed extends Error {}

// Characters by UTF-8 length, used to build text of an exact byte length.
const CHARS = {
  1: [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_/\\"\'{}[]<>~'],
  2: [...'éßñüЖжπλΩ߀'],
  3: [...'€中文あア✓☃한'],
  4: [...'😀🎉🦀𝄞🚀🌍'],
};

function prng(seed) {
  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeText(nbytes, seed) {
  const rnd = prng(seed);
  const out = [];
  let left = nbytes;
  while (left > 0) {
    const k = 1 + Math.floor(rnd() * Math.min(4, left));
    const pool = CHARS[k];
    out.push(pool[Math.floor(rnd() * pool.length)]);
    left -= k;
  }
  const s = out.join('');
  if (Buffer.byteLength(s, 'utf8') !== nbytes) throw new Error('test bug: text length');
  return s;
}

function makeBinary(nbytes, seed) {
  const rnd = prng(seed);
  const b = Buffer.alloc(nbytes);
  for (let i = 0; i < nbytes; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

function firstDiff(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      return `first difference at byte ${i}: sent 0x${a[i].toString(16).padStart(2, '0')}, got 0x${b[i].toString(16).padStart(2, '0')}`;
    }
  }
  return `length differs: sent ${a.length} bytes, got ${b.length} bytes`;
}

// Resolve/reject from event callbacks, bounded by the timeout.
function waitFor(what, setup) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new CheckFailed(`timeout after ${TIMEOUT_S} s waiting for ${what}`)),
      TIMEOUT_MS,
    );
    setup(
      (v) => { clearTimeout(timer); resolve(v); },
      (e) => { clearTimeout(timer); reject(e); },
    );
  });
}

function open(url) {
  const ws = new WebSocket(url, WS_OPTS);
  // Track errors and unexpected closes so pending waits fail fast.
  ws.lastError = null;
  ws.on('error', (e) => { ws.lastError = e; });
  return waitFor('connection', (ok, fail) => {
    ws.once('open', () => ok(ws));
    ws.once('error', (e) => fail(new CheckFailed(`connect failed: ${e.message}`)));
    ws.once('close', (code) => fail(new CheckFailed(`connection closed before open (code ${code})`)));
  });
}

function nextMessage(ws, what) {
  return waitFor(what, (ok, fail) => {
    const onMsg = (data, isBinary) => { cleanup(); ok({ data, isBinary }); };
    const onClose = (code, reason) => {
      cleanup();
      fail(new CheckFailed(`connection closed while waiting for ${what}: code ${code} ${reason}` +
        (ws.lastError ? ` (${ws.lastError.message})` : '')));
    };
    const cleanup = () => { ws.off('message', onMsg); ws.off('close', onClose); };
    ws.on('message', onMsg);
    ws.on('close', onClose);
  });
}

// A wait for a reply that starts before the request is sent. ws emits 'message' to the
// listeners it has at that moment, and over TLS a send's callback may run after the reply has
// already been read, so a listener added once the send completes can miss the reply. The no-op
// catch keeps a reply's timeout, if the send fails first, from being an unhandled rejection; the
// caller still awaits the wait itself.
function listenFirst(wait) {
  wait.catch(() => {});
  return wait;
}

function sendFrame(ws, data, opts, what) {
  return waitFor(what, (ok, fail) => {
    ws.send(data, { compress: false, ...opts }, (err) => (err ? fail(new CheckFailed(`send failed: ${err.message}`)) : ok()));
  });
}

function quietClose(ws) {
  if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  setTimeout(() => ws.terminate(), TIMEOUT_MS).unref();
}

async function withConn(url, fn) {
  const ws = await open(url);
  try {
    return await fn(ws);
  } finally {
    quietClose(ws);
  }
}

async function checkEcho(url, kind, size) {
  const seed = size * 2 + (kind === 'text' ? 1 : 0);
  const msg = kind === 'text' ? makeText(size, seed) : makeBinary(size, seed);
  const sent = kind === 'text' ? Buffer.from(msg, 'utf8') : msg;
  return withConn(url, async (ws) => {
    const echo = listenFirst(nextMessage(ws, 'echo'));
    // A string is sent as a text frame, a Buffer as a binary frame.
    await sendFrame(ws, msg, { binary: kind === 'binary', fin: true }, 'send to complete');
    const { data, isBinary } = await echo;
    if (kind === 'text' && isBinary) throw new CheckFailed(`sent a text message, echo came back as binary (${data.length} bytes)`);
    if (kind === 'binary' && !isBinary) throw new CheckFailed('sent a binary message, echo came back as text');
    if (!sent.equals(data)) throw new CheckFailed(firstDiff(sent, data));
    return `${size} bytes${kind === 'text' ? `, ${[...msg].length} code points` : ''} echoed identically`;
  });
}

async function checkFragmented(url, fragments, label) {
  const whole = Buffer.concat(fragments);
  const dec = new TextDecoder('utf-8', { fatal: true });
  dec.decode(whole); // whole message is valid UTF-8 (throws otherwise: test bug)
  if (fragments.every((f) => { try { dec.decode(f); return true; } catch { return false; } })) {
    throw new Error('test bug: no fragment splits a code point');
  }
  const desc = fragments.map((f, i) => (i === 0
    ? `${f.length}B ...${f.subarray(-3).toString('hex').match(/../g).join(' ')}`
    : `${f.length}B ${f.subarray(0, 3).toString('hex').match(/../g).join(' ')}...`)).join(' | ');
  return withConn(url, async (ws) => {
    // ws.send(Buffer, { binary: false, fin: false }) sends a TEXT frame with
    // FIN=0 and the raw bytes; the following sends become CONT frames, the
    // last one with FIN=1. ws does not validate UTF-8 on send.
    const echo = listenFirst(nextMessage(ws, 'echo'));
    for (let i = 0; i < fragments.length; i++) {
      await sendFrame(ws, fragments[i], { binary: false, fin: i === fragments.length - 1 }, `fragment ${i + 1} to be sent`);
    }
    const { data, isBinary } = await echo;
    if (isBinary) throw new CheckFailed('sent a fragmented text message, echo came back as binary');
    if (!whole.equals(data)) throw new CheckFailed(firstDiff(whole, data));
    return `${label}: sent ${fragments.length} frames [${desc}], echo equals the whole ${whole.length}-byte text`;
  });
}

async function checkPing(url) {
  const payload = Buffer.from(`espws-ping-${randomBytes(8).toString('hex')}`);
  return withConn(url, async (ws) => {
    const t0 = process.hrtime.bigint();
    let others = 0;
    const pong = waitFor('pong with matching payload', (ok, fail) => {
      const onPong = (data) => {
        if (payload.equals(data)) { cleanup(); ok(); } else { others++; }
      };
      const onClose = (code) => { cleanup(); fail(new CheckFailed(`connection closed while waiting for pong (code ${code})`)); };
      const cleanup = () => { ws.off('pong', onPong); ws.off('close', onClose); };
      ws.on('pong', onPong);
      ws.on('close', onClose);
    });
    ws.ping(payload);
    await pong;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return `pong with payload '${payload}' received after ${ms.toFixed(1)} ms` +
      (others ? ` (ignored ${others} pong(s) with other payloads)` : '');
  });
}

async function checkClose(url) {
  const ws = await open(url);
  const t0 = process.hrtime.bigint();
  const { code, reason } = await waitFor('close handshake', (ok) => {
    // ws emits 'close' once the TCP connection is closed. Its code is the one
    // from the server's close frame, or 1006 if none was received (ws gives up
    // after closeTimeout = our timeout).
    ws.once('close', (c, r) => ok({ code: c, reason: r.toString() }));
    ws.close(1000, 'interop done');
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (code === 1006) throw new CheckFailed(`no close frame received from the server (after ${ms.toFixed(1)} ms)`);
  if (code !== 1000) throw new CheckFailed(`server close frame has code ${code} (reason '${reason}'), expected 1000`);
  // ws internals (stable across ws 8.x): both close frames were exchanged.
  if (ws._closeFrameSent === false || ws._closeFrameReceived === false) {
    throw new CheckFailed(`close frames: sent=${ws._closeFrameSent} received=${ws._closeFrameReceived}`);
  }
  if (ws.lastError) throw new CheckFailed(`error during close: ${ws.lastError.message}`);
  if (ms >= TIMEOUT_MS * 0.9) throw new CheckFailed(`close took ${ms.toFixed(0)} ms: the server did not close the TCP connection`);
  return `server answered with close code 1000 (reason '${reason}'); handshake + TCP close in ${ms.toFixed(1)} ms`;
}

async function main() {
  const url = process.argv[2];
  if (process.argv.length !== 3 || !/^wss?:\/\//.test(url)) {
    console.error('usage: node check.mjs ws://HOST:PORT/PATH');
    process.exit(2);
  }
  const checks = [];
  for (const kind of ['text', 'binary']) {
    for (const size of SIZES) checks.push([`echo-${kind}-${size}`, () => checkEcho(url, kind, size)]);
  }
  const euro = [Buffer.from('fragment one: price 5 \u20ac, fragment two', 'utf8')];
  const cut = euro[0].indexOf(0xe2) + 2; // after e2 82, before ac
  const euroFrags = [euro[0].subarray(0, cut), euro[0].subarray(cut)];
  const emoji = Buffer.from('three frames: \u{1F600} <- grinning face', 'utf8');
  const e = emoji.indexOf(0xf0);
  const emojiFrags = [emoji.subarray(0, e + 1), emoji.subarray(e + 1, e + 3), emoji.subarray(e + 3)];
  checks.push(['fragmented-text-split-3byte-char', () => checkFragmented(url, euroFrags, 'U+20AC EURO SIGN (e2 82 | ac)')]);
  checks.push(['fragmented-text-split-4byte-char', () => checkFragmented(url, emojiFrags, 'U+1F600 GRINNING FACE (f0 | 9f 98 | 80)')]);
  checks.push(['ping-pong', () => checkPing(url)]);
  checks.push(['close-1000', () => checkClose(url)]);

  console.log(`[${CLIENT}] checking ${url} (timeout ${TIMEOUT_S} s per wait)`);
  let passed = 0;
  let failed = 0;
  const tStart = process.hrtime.bigint();
  for (const [name, fn] of checks) {
    const t0 = process.hrtime.bigint();
    let ok;
    let detail;
    try {
      detail = await fn();
      ok = true;
    } catch (err) {
      ok = false;
      detail = err instanceof CheckFailed ? err.message : `${err.name}: ${err.message}`;
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ok) passed++; else failed++;
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name} (${ms.toFixed(1)} ms): ${detail}`);
  }
  const total = Number(process.hrtime.bigint() - tStart) / 1e9;
  console.log(`[${CLIENT}] total time ${total.toFixed(2)} s`);
  console.log(`${CLIENT}: ${passed} passed, ${failed} failed`);
  // Do not wait for lingering sockets (quietClose timers are unref'd).
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(`[${CLIENT}] internal error: ${err.stack}`);
  process.exit(1);
});
