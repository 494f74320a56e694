'use strict';
/* global fetch, URL -- Node 20 globals */
/**
 * Baseline: the raw `ws` relay. Subscribers connect to `/` (or `/?room=NAME`); `POST /start
 * {simUrl, apiKey, prompt, room?}` creates an echo instance at the simulator, opens its event socket
 * (the room's one upstream), sends the prompt, and relays every upstream frame, parsed and serialised
 * once with a `seq`, to every subscriber of the room: one WebSocket frame per event. No validation,
 * persistence, auth or back-pressure policy: the floor for Node + ws. Several rooms may stream at once.
 */
const http = require('node:http');
const WebSocket = require('ws');

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/start') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      start(JSON.parse(body)).then(
        () => res.end('{}'),
        (err) => {
          res.statusCode = 500;
          res.end(JSON.stringify({ error: String(err) }));
        },
      );
    });
    return;
  }
  res.end('{}');
});
const wss = new WebSocket.Server({ server, perMessageDeflate: false });
/** room name → its subscribers */
const rooms = new Map();
wss.on('connection', (ws, req) => {
  const room = new URL(req.url || '/', 'http://x').searchParams.get('room') || '';
  if (!rooms.has(room)) rooms.set(room, new Set());
  rooms.get(room).add(ws);
  ws.on('close', () => rooms.get(room).delete(ws));
  ws.send('{"type":"welcome"}');
});

let seq = 0;
const TYPES = {
  stream_update: 'text_delta',
  stream_start: 'turn_started',
  stream_end: 'turn_complete',
  usage: 'usage_update',
};

async function start({ simUrl, apiKey, prompt, room = '' }) {
  const created = await fetch(`${simUrl}/api/v1/instances`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ deployment_id: 'echo:1.0.0@local' }),
  }).then((r) => r.json());
  const id = created.instance_id;
  const up = new WebSocket(`${simUrl.replace(/^http/, 'ws')}/api/v1/instances/${id}/ws`, {
    headers: { authorization: `Bearer ${apiKey}` },
    perMessageDeflate: false,
  });
  await new Promise((res, rej) => {
    up.once('open', res);
    up.once('error', rej);
  });
  const subscribers = rooms.get(room) || new Set();
  up.on('message', (data) => {
    const f = JSON.parse(data.toString());
    const c = f.content || {};
    const type = TYPES[c.event_type] || c.event_type;
    const frame = JSON.stringify({
      type,
      sessionId: id,
      turnId: c.turn_id,
      text: c.text,
      seq: ++seq,
      ts: Date.now(),
    });
    for (const ws of subscribers) if (ws.readyState === 1) ws.send(frame);
    if (type === 'turn_complete') up.close();
  });
  up.send(JSON.stringify({ type: 'process_message', content: { text: prompt, turn_id: `r${seq}` } }));
}

server.listen(0, '127.0.0.1', () => console.log(`relay listening on ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
