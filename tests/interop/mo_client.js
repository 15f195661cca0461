// node-smpp as a client ESME receiving MO from smsgwd (tests/test_smsgwd.c).
// Usage: node mo_client.js PORT SYSTEM_ID PASSWORD COUNT
// Binds receiver, prints {"bound":true} once bound, then one JSON line per
// deliver_sm that is not a receipt ({"from","to","dc","text"}, the text as
// node-smpp decodes short_message or message_payload), answers each, and
// after COUNT of them (or 20 s) unbinds and prints {"done":true,...}.
'use strict';
const smpp = require('smpp');
const [port, sysid, password, countArg] = process.argv.slice(2);
const count = Number(countArg || 1);
let got = 0;
const session = smpp.connect({ url: `smpp://127.0.0.1:${port}` });
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const finish = (why) => { out({ done: true, received: got, why }); process.exit(0); };
const timer = setTimeout(() => finish('timeout'), 20000);
session.on('error', (e) => finish(String(e)));
session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  if (pdu.esm_class & 4)
    return;
  const m = pdu.message_payload !== undefined ? pdu.message_payload : pdu.short_message;
  const text = m && typeof m.message === 'string' ? m.message : String(m && m.message);
  out({ from: pdu.source_addr, to: pdu.destination_addr, dc: pdu.data_coding, text });
  if (++got === count)
    session.unbind(() => { clearTimeout(timer); finish('count'); });
});
session.bind_receiver({ system_id: sysid, password }, (pdu) => {
  if (pdu.command_status !== 0) { clearTimeout(timer); finish('bind ' + pdu.command_status); return; }
  out({ bound: true });
});
