// A minimal node-smpp SMSC for comparison runs (bench/run.sh): binds any
// system_id, answers every submit_sm with ESME_ROK and an id. No receipts.
// Usage: node bench/node_smsc.js PORT
'use strict';
const smpp = require('../tests/interop/node_modules/smpp');
let next = 1;
const server = smpp.createServer({}, (session) => {
  session.on('error', () => {});
  const bind = (pdu) => session.send(pdu.response({ system_id: 'NODESMSC' }));
  session.on('bind_transmitter', bind);
  session.on('bind_transceiver', bind);
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('submit_sm', (pdu) => session.send(pdu.response({ message_id: (next++).toString(16) })));
});
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
