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
capable, on capability and on send), 0401 -> RBM revokes the service-account
token the send used and answers 401, 0503 -> 503 with Retry-After: 1 to the
first two sends to that number, then the normal answer; 0502 -> the same
with Retry-After: 3, once.

  POST /cb/...    a status-callback receiver (smsgwd's core/webhook): no
                  token, answers 200, logged like the rest
  POST /token     Google's OAuth token endpoint for service accounts (JWT
                  bearer grant, RFC 7523): with PROVIDER_SA_EMAIL and
                  PROVIDER_SA_PUB (the key's public half, PEM) set, checks
                  the assertion (RS256 signature with openssl, iss, aud,
                  scope, iat/exp) and answers a new access token
                  "sa-token-N" living PROVIDER_TOKEN_TTL s (default 3600),
                  which the RBM endpoints then take as well as TOKEN;
                  anything wrong: 400 {"error": "invalid_grant", ...}
"""
import base64, json, os, re, subprocess, sys, tempfile, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, token, logfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
counter = [0]
tries = {}          # number -> sends seen (the 0503 behaviour)
issued = {}         # access token -> expiry (epoch s)
RBM_SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"


def b64url_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_assertion(jwt):
    """None when the JWT is a good grant assertion, else what is wrong."""
    email, pub = os.environ.get("PROVIDER_SA_EMAIL"), os.environ.get("PROVIDER_SA_PUB")
    if not email or not pub:
        return "no service account configured"
    parts = jwt.split(".")
    if len(parts) != 3:
        return "not a JWT"
    try:
        head, claims = json.loads(b64url_dec(parts[0])), json.loads(b64url_dec(parts[1]))
        sig = b64url_dec(parts[2])
    except ValueError:
        return "undecodable JWT"
    if head.get("alg") != "RS256" or head.get("typ") != "JWT":
        return "header %r" % head
    now = time.time()
    if claims.get("iss") != email:
        return "iss %r" % claims.get("iss")
    if claims.get("aud") != "http://127.0.0.1:%d/token" % port:
        return "aud %r" % claims.get("aud")
    if claims.get("scope") != RBM_SCOPE:
        return "scope %r" % claims.get("scope")
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or abs(iat - now) > 300 or not 0 < exp - iat <= 3600:
        return "iat/exp %r/%r" % (iat, exp)
    with tempfile.TemporaryDirectory() as d:
        with open(d + "/data", "wb") as f:
            f.write((parts[0] + "." + parts[1]).encode())
        with open(d + "/sig", "wb") as f:
            f.write(sig)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", d + "/sig",
                            d + "/data"], capture_output=True)
    if r.returncode != 0:
        return "bad signature"
    return None


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
        got = self.headers.get("Authorization") or ""
        ok = got == "Bearer " + token
        if not ok and got.startswith("Bearer "):
            with lock:
                ok = issued.get(got[7:], 0) > time.time()
        if not ok:
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

    def token_grant(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        why = None
        if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            why = "content type %r" % self.headers.get("Content-Type")
        elif form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            why = "grant_type %r" % form.get("grant_type")
        else:
            why = check_assertion(form.get("assertion", ""))
        ttl = int(os.environ.get("PROVIDER_TOKEN_TTL", "3600"))
        tok = None
        if why is None:
            with lock:
                counter[0] += 1
                tok = "sa-token-%d" % counter[0]
                issued[tok] = time.time() + ttl
        log({"method": "POST", "path": "/token", "grant": why or "ok", "token": tok})
        if why is not None:
            self.reply(400, {"error": "invalid_grant", "error_description": why})
            return
        self.reply(200, {"access_token": tok, "expires_in": ttl, "token_type": "Bearer"})

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path == "/token":
            return self.token_grant()
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
        auth = self.headers.get("Authorization") or ""
        if msisdn.endswith("0401") and auth.startswith("Bearer sa-token-"):
            with lock:
                issued.pop(auth[7:], None)      # revoked: later uses get 401 too
            self.reply(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})
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
