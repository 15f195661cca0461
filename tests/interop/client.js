// node-smpp as a client ESME binding to our smsc-sim (tests/test_interop.c).
// Usage: node client.js PORT SYSTEM_ID PASSWORD COUNT
// Binds transceiver, submits COUNT messages with registered_delivery=1
// waits for receipts,
// unbinds, and prints one JSON summary line.
'use strict';
const smpp = require('smpp');
const [port, sysid, password, countArg] = process.argv.slice(2);
const count = Number(countArg || 5);
const result = { bound: false, bind_status: null, submitted: 0, resp_ok: 0, ids: [],
                 receipts: 0, receipt_ids: [], stats: [], unbound: false };
const session = smpp.connect({ url: `smpp://127.0.0.1:${port}` });
const finish = () => { process.stdout.write(JSON.stringify(result) + '\n'); process.exit(0); };
const timer = setTimeout(finish, 15000);
session.on('error', (e) => { result.error = String(e); finish(); });
session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  if (pdu.esm_class & 4) {
    result.receipts++;
    const m = /id:(\S+)/.exec(String(pdu.short_message.message || ''));
    result.receipt_ids.push(pdu.receipted_message_id || (m && m[1]));
    const st = /stat:(\S+)/.exec(String(pdu.short_message.message || ''));
    result.stats.push(st && st[1]);
  }
  if (result.receipts === count) {
    session.unbind(() => { result.unbound = true; clearTimeout(timer); finish(); });
  }
});
session.bind_transceiver({ system_id: sysid, password }, (pdu) => {
  result.bind_status = pdu.command_status;
  if (pdu.command_status !== 0) { clearTimeout(timer); finish(); return; }
  result.bound = true;
  for (let i = 0; i < count; i++) {
    result.submitted++;
    session.submit_sm({
      source_addr: '12345', source_addr_ton: 3,
      destination_addr: '1415555' + String(1000 + i), dest_addr_ton: 1, dest_addr_npi: 1,
      registered_delivery: 1,
      short_message: `interop message ${i}`,
    }, (resp) => {
      if (resp.command_status === 0) { result.resp_ok++; result.ids.push(resp.message_id); }
    });
  }
});
