#!/usr/bin/python3
"""A real SMTP server for test_channels (Debian's python3-aiosmtpd).

usage: smtpd.py PORT OUTDIR tls CERT KEY USER PASS   STARTTLS required, AUTH required
       smtpd.py PORT OUTDIR plain                    neither offered

Every accepted mail is written to OUTDIR/mail-N.json with the envelope, the
session facts (TLS in use, authenticated user) and the parsed message
(headers as sent, decoded subject and body), so the C test can check what
arrived. Recipients starting "nobody@" get 550, "busy@" get 451.
"""
import asyncio, email, email.header, email.policy, json, os, signal, ssl, sys, threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, outdir, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
count = 0
lock = threading.Lock()


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        if address.startswith("busy@"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        global count
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_content() if not msg.is_multipart() else ""
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "auth_user": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "headers": {k: str(v) for k, v in msg.items()},
            "raw_subject": msg.get("Subject", failobj=None) and raw.split(b"\r\nSubject: ", 1)[1].split(b"\r\n", 1)[0].decode("ascii", "replace"),
            "cte": msg.get("Content-Transfer-Encoding"),
            "body": body,
            "raw_has_crlf_only": b"\n" not in raw.replace(b"\r\n", b""),
        }
        with lock:
            count += 1
            path = os.path.join(outdir, "mail-%d.json" % count)
            with open(path + ".tmp", "w") as f:
                json.dump(rec, f)
            os.rename(path + ".tmp", path)
        return "250 2.0.0 Queued as test-%d" % count


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data)
    return check


kwargs = {}
if mode == "tls":
    cert, key, user, password = sys.argv[4:8]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kwargs = dict(tls_context=ctx, require_starttls=True, authenticator=authenticator(user, password),
                  auth_required=True, auth_require_tls=True)

ctl = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
ctl.start()
print("listening", port, mode, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
signal.signal(signal.SIGINT, lambda *a: stop.set())
parent = os.getppid()
while not stop.wait(0.2):
    if os.getppid() != parent:      # the test died: do not linger
        break
ctl.stop()
