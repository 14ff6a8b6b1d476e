#!/usr/bin/env python3
"""The dashboard off localhost: refuses to start without a token; with one, every request
needs the pf_token cookie, which only a POST of the token to /login gives (never a URL).
Usage: test_dashboard_token.py PHYSIOFLOW"""
import os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.error, urllib.request

phys = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="pf-tok-")
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
bp, wp = port(), port()
def cfg(extra):
    path = os.path.join(tmp, "g.cfg")
    open(path, "w").write(f'''name = "tok";
nodes = (
  {{ name = "live"; kind = "live"; endpoint = "tcp://127.0.0.1:{bp}"; }},
  {{ name = "monitor"; kind = "monitor"; events = ""; }},
  {{ name = "dashboard"; kind = "dashboard"; bind = "0.0.0.0"; port = {wp}; {extra} }}
);
edges = ( {{ from = "live"; to = "monitor"; policy = "drop"; }}, {{ from = "monitor"; to = "dashboard"; policy = "drop"; }} );
''')
    return path
fails = []
def check(ok, msg):
    if not ok: fails.append(msg); print("FAIL:", msg)
def status(req):
    try: return urllib.request.urlopen(req, timeout=5).status
    except urllib.error.HTTPError as e: return e.code
try:
    r = subprocess.run([phys, "run", cfg("")], capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "set token" in r.stdout + r.stderr, f"no token: exit {r.returncode}, {(r.stdout + r.stderr)[-300:]}")
    tok = "s3cret-token-0123456789"
    g = subprocess.Popen([phys, "run", cfg(f'token = "{tok}";')], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{wp}"
    for _ in range(100):
        try: urllib.request.urlopen(url + "/", timeout=1)
        except urllib.error.HTTPError: break
        except OSError: time.sleep(0.1)
    check(status(url + "/") == 401, "page without the cookie is refused")
    check(status(url + "/events") == 401, "event stream without the cookie is refused")
    check(status(urllib.request.Request(url + "/login", data=b"wrong", method="POST")) == 403, "wrong token refused")
    resp = urllib.request.urlopen(urllib.request.Request(url + "/login", data=tok.encode(), method="POST"), timeout=5)
    cookie = resp.headers.get("Set-Cookie", "")
    check(cookie.startswith(f"pf_token={tok}") and "HttpOnly" in cookie, f"login sets the cookie: {cookie}")
    check(status(urllib.request.Request(url + "/", headers={"Cookie": f"pf_token={tok}"})) == 200, "page with the cookie")
    check(status(urllib.request.Request(url + "/", headers={"Cookie": "pf_token=s3cret-token-0123456780"})) == 401, "a near-miss cookie is refused")
    g.send_signal(signal.SIGINT); g.wait(30)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("PASS" if not fails else "FAIL")
sys.exit(1 if fails else 0)
