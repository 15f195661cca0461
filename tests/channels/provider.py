#!/usr/bin/python3
"""HTTP stand-ins for the OTT (WhatsApp Cloud API) and RCS (RBM) providers.

usage: provider.py PORT TOKEN LOGFILE

  POST /wa/{phone_number_id}/messages              WhatsApp Cloud API shape
  GET  /rbm/v1/phones/{msisdn}/capabilities        RBM capability check
  POST /rbm/v1/phones/{msisdn}/agentMessages       RBM send

Each request is checked the way the real API documents it (Bearer token,
JSON content type, body shape, required query parameters); a request that
does not match gets 401/400 with the reason, so a wrong request fails the
test. Every request is appended to LOGFILE as one JSON line (method, path,
query, authorization, content type, body as parsed) for the test to check.

Behaviour by the last four digits of the recipient: 0500 -> 500, 0429 ->
429 (WhatsApp code 130429), 0408 -> no answer for 30 s, 0131 -> 400 with
WhatsApp code 131047 (outside the 24 h window), 0404 -> RBM 404 (not RCS
capable, on capability and on send), 0503 -> 503 with Retry-After: 1 to the
first two sends to that number, then the normal answer; 0502 -> the same
with Retry-After: 3, once.

  POST /cb/...    a status-callback receiver (smsgwd's core/webhook): no
                  token, answers 200, logged like the rest
"""
import json, os, re, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, token, logfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
counter = [0]
tries = {}          # number -> sends seen (the 0503 behaviour)


def log(rec):
    with lock:
        with open(logfile, "a") as f:
            f.write(json.dumps(rec) + "\n")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def common(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = {"_unparsable": raw.decode("utf-8", "replace")}
        rec = {"method": method, "path": u.path, "query": {k: v[0] for k, v in q.items()},
               "auth": self.headers.get("Authorization"), "ctype": self.headers.get("Content-Type"),
               "body": body}
        log(rec)
        if method == "POST" and u.path.startswith("/cb/"):
            self.reply(200, {})
            return None
        if self.headers.get("Authorization") != "Bearer " + token:
            self.reply(401, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}})
            return None
        return u.path, rec["query"], body

    def behave(self, who):
        if who.endswith("0503") or who.endswith("0502"):
            with lock:
                tries[who] = tries.get(who, 0) + 1
                n = tries[who]
            if n <= (2 if who.endswith("0503") else 1):
                data = json.dumps({"error": {"message": "Service temporarily unavailable"}}).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", "1" if who.endswith("0503") else "3")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return True
            return False
        if who.endswith("0408"):
            time.sleep(30)
            return True
        if who.endswith("0500"):
            self.reply(500, {"error": {"message": "Internal error", "code": 1}})
            return True
        return False

    def do_GET(self):
        r = self.common("GET")
        if r is None:
            return
        path, q, body = r
        m = re.fullmatch(r"/rbm/v1/phones/(\+\d{6,15})/capabilities", path)
        if not m or "requestId" not in q or not re.fullmatch(r"[0-9a-f-]{36}", q["requestId"]):
            self.reply(400, {"error": {"code": 400, "message": "bad capability request", "status": "INVALID_ARGUMENT"}})
            return
        if self.behave(m.group(1)):
            return
        if m.group(1).endswith("0404"):
            self.reply(404, {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}})
            return
        self.reply(200, {"features": ["RICHCARD_STANDALONE", "ACTION_OPEN_URL"]})

    def do_POST(self):
        r = self.common("POST")
        if r is None:
            return
        path, q, body = r
        if self.headers.get("Content-Type") != "application/json" or not isinstance(body, dict):
            self.reply(400, {"error": {"message": "JSON body required", "code": 100}})
            return
        m = re.fullmatch(r"/wa/([A-Za-z0-9_.-]+)/messages", path)
        if m:
            return self.whatsapp(body)
        m = re.fullmatch(r"/rbm/v1/phones/(\+\d{6,15})/agentMessages", path)
        if m:
            return self.rbm(m.group(1), q, body)
        self.reply(404, {"error": {"message": "no such endpoint"}})

    def whatsapp(self, b):
        to = b.get("to", "")
        ok = b.get("messaging_product") == "whatsapp" and re.fullmatch(r"\d{6,15}", to)
        if b.get("type") == "text":
            ok = ok and isinstance(b.get("text"), dict) and isinstance(b["text"].get("body"), str) and b["text"]["body"]
        elif b.get("type") == "template":
            t = b.get("template") or {}
            ok = ok and t.get("name") and (t.get("language") or {}).get("code")
        else:
            ok = False
        if not ok:
            self.reply(400, {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}})
            return
        if self.behave(to):
            return
        if to.endswith("0429"):
            self.reply(429, {"error": {"message": "Rate limit hit", "code": 130429}})
            return
        if to.endswith("0131"):
            self.reply(400, {"error": {"message": "Re-engagement message", "code": 131047}})
            return
        with lock:
            counter[0] += 1
            wamid = "wamid.TEST%06d" % counter[0]
        self.reply(200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                         "messages": [{"id": wamid}]})

    def rbm(self, msisdn, q, b):
        cm = b.get("contentMessage")
        ok = "messageId" in q and isinstance(cm, dict) and (
            isinstance(cm.get("text"), str) or
            isinstance(((cm.get("richCard") or {}).get("standaloneCard") or {}).get("cardContent"), dict))
        if not ok:
            self.reply(400, {"error": {"code": 400, "message": "bad agentMessage", "status": "INVALID_ARGUMENT"}})
            return
        if self.behave(msisdn):
            return
        if msisdn.endswith("0404"):
            self.reply(404, {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}})
            return
        self.reply(200, {"name": "phones/%s/agentMessages/%s" % (msisdn, q["messageId"]),
                         "sendTime": "2026-01-01T00:00:00.000000Z",
                         "contentMessage": cm})


srv = ThreadingHTTPServer(("127.0.0.1", port), H)
srv.daemon_threads = True


def watch_parent(parent=os.getppid()):
    while os.getppid() == parent:     # the test died: do not linger
        time.sleep(0.2)
    os._exit(0)


threading.Thread(target=watch_parent, daemon=True).start()
print("listening", port, flush=True)
srv.serve_forever()
