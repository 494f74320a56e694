'use strict';
/* global fetch -- a Node 20 global */
/**
 * Baseline: Socket.IO 4 room broadcast. Subscribers connect with socket.io-client (websocket transport
 * only, `?room=NAME`) and join that room. `POST /start {simUrl, apiKey, prompt, room?}` creates an echo
 * instance at the simulator, opens its event socket (the room's one upstream), sends the prompt, and
 * `io.to(room).emit('event', frame)`s every upstream frame with a `seq` (Socket.IO encodes each
 * broadcast once, then writes it to every socket of the room). No compression anywhere.
 */
const http = require('node:http');
const WebSocket = require('ws');
const { Server } = require('socket.io');

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
  // socket.io answers its own path; everything else gets an empty JSON body
  if (!req.url.startsWith('/socket.io/')) res.end('{}');
});
const io = new Server(server, {
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  maxHttpBufferSize: 1e6,
});
io.on('connection', (socket) => {
  const room = String(socket.handshake.query.room || '');
  socket.join(room);
  socket.emit('welcome', { type: 'welcome' });
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
  const target = io.to(room);
  up.on('message', (data) => {
    const f = JSON.parse(data.toString());
    const c = f.content || {};
    const type = TYPES[c.event_type] || c.event_type;
    target.emit('event', {
      type,
      sessionId: id,
      turnId: c.turn_id,
      text: c.text,
      seq: ++seq,
      ts: Date.now(),
    });
    if (type === 'turn_complete') up.close();
  });
  up.send(JSON.stringify({ type: 'process_message', content: { text: prompt, turn_id: `r${seq}` } }));
}

server.listen(0, '127.0.0.1', () => console.log(`socket.io relay listening on ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
