// node-smpp as the SMSC our ESME binds to (tests/test_interop.c).
// Usage: node server.js PORT SYSTEM_ID PASSWORD
// Prints one JSON line per event on stdout; answers submit_sm with an id
// and sends a delivery receipt (deliver_sm, esm_class 4) for each.
'use strict';
const smpp = require('smpp');
const [port, sysid, password] = process.argv.slice(2);
let next = 1000;
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const server = smpp.createServer({ debug: false }, (session) => {
  session.on('error', (e) => say({ event: 'error', message: String(e) }));
  const bind = (pdu) => {
    if (pdu.system_id !== sysid || pdu.password !== password) {
      say({ event: 'bind_refused', system_id: pdu.system_id });
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      return;
    }
    say({ event: 'bind', command: pdu.command, system_id: pdu.system_id });
    session.send(pdu.response({ system_id: 'NODESMSC' }));
  };
  session.on('bind_transceiver', bind);
  session.on('bind_transmitter', bind);
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    say({ event: 'unbind' });
    session.send(pdu.response());
    session.close();
  });
  session.on('submit_sm', (pdu) => {
    const id = (next++).toString(16).toUpperCase();
    const text = Buffer.isBuffer(pdu.short_message.message)
      ? pdu.short_message.message.toString('latin1') : String(pdu.short_message.message || '');
    say({ event: 'submit_sm', id, from: pdu.source_addr, to: pdu.destination_addr,
          source_addr_ton: pdu.source_addr_ton, source_addr_npi: pdu.source_addr_npi,
          dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
          esm_class: pdu.esm_class, ms: Date.now(),
          data_coding: pdu.data_coding, text, registered_delivery: pdu.registered_delivery });
    session.send(pdu.response({ message_id: id }));
    if (pdu.registered_delivery & 1) {
      session.deliver_sm({
        source_addr: pdu.destination_addr, destination_addr: pdu.source_addr,
        esm_class: 4,
        short_message: `id:${id} sub:001 dlvrd:001 submit date:2611271200 done date:2611271201 stat:DELIVRD err:000 text:`,
        receipted_message_id: id, message_state: 2,
      }, (resp) => say({ event: 'deliver_sm_resp', id, status: resp.command_status }));
    }
  });
});
server.listen(Number(port), '127.0.0.1', () => say({ event: 'listening', port: Number(port) }));
process.on('SIGTERM', () => process.exit(0));
