'use strict';
/** Baseline: bare `node:http` answering `200 {}` (keep-alive), for the /health ratio and start-up time. */
const http = require('node:http');

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
  res.end('{}');
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`bare-http listening on ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
