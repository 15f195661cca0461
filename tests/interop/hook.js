// A status-callback receiver for tests/test_smsgwd.c: logs each POST as one
// JSON line {path, event_id, signature, body} and answers 200, except that
// with FAIL_FIRST=1 the first request of each event id gets a 500.
// Usage: node hook.js PORT
'use strict';
const http = require('http');
const seen = new Set();
const failFirst = process.env.FAIL_FIRST === '1';
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const id = req.headers['x-smsgw-event-id'] || '';
    const fail = failFirst && !seen.has(id);
    seen.add(id);
    process.stdout.write(JSON.stringify({ path: req.url, event_id: id, status: fail ? 500 : 200,
      content_type: req.headers['content-type'], body }) + '\n');
    res.writeHead(fail ? 500 : 200, { 'Content-Type': 'text/plain' });
    res.end(fail ? 'try again' : 'ok');
  });
}).listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
