"""Crash safety: SIGKILL in the middle of 1,000 concurrent sign-ups, then a restart on the same
SQLite file. Every sign-up whose browser got its authorization code must exist after the
restart (identity and user row, password hash set, and able to sign in through the pages), and
no account may be half-written (a user without its identity, or the reverse).
Prints the counts and exits 1 on a violation. Standard library only.

Usage: python3 signups.py TRUSTFRAME_BIN CONFIG DB_FILE BASE_URL [SIGNUPS] [KILL_AFTER]
"""
import html
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import browser  # noqa: E402  (crates/server/tests/browser.py)

BIN, CONFIG, DB, TF = sys.argv[1:5]
SIGNUPS = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
# The kill comes once this many sign-ups have their code: the rest are still in flight.
KILL_AFTER = int(sys.argv[6]) if len(sys.argv) > 6 else SIGNUPS * 2 // 5
CLIENT = "11112222-bbbb-3333-cccc-4444dddd5555"
APP_REDIRECT = "http://127.0.0.1:9/callback"
POLICY = "B2C_1_susi"
RUN = secrets.token_hex(3)


def authorize():
    q = {"client_id": CLIENT, "redirect_uri": APP_REDIRECT, "response_type": "code",
         "scope": "openid", "nonce": secrets.token_hex(4), "state": "s", "prompt": "login"}
    return f"{TF}/contoso/{POLICY}/oauth2/v2.0/authorize?" + urllib.parse.urlencode(q)


def main_form(page):
    at, _, body = page
    m = re.search(r'<form[^>]*action="([^"]+)"[^>]*id="(?:attributeVerification|localAccountForm)"'
                  r'[^>]*>(.*?)</form>', body, re.S)
    if not m:
        raise RuntimeError(f"no form on {at}")
    return urllib.parse.urljoin(at, html.unescape(m.group(1))), browser.inputs(m.group(2))


def fill(fields, email, password):
    for name in list(fields):
        if name in ("email", "signInName"):
            fields[name] = email
        elif name in ("password", "newPassword", "reenterPassword"):
            fields[name] = password
        elif name != "csrf" and not fields[name]:
            fields[name] = "Crash"
    fields["action"] = "continue"
    return fields


def password_of(email):
    return "Crash-" + email.split("@")[0] + "!9"


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.started = self.submitted = self.answered = self.failed = 0
        self.answered_emails = []
        self.submitted_emails = []
        self.errors = {}
        self.killed = threading.Event()


def sign_up(n, counts, go):
    email = f"crash-{RUN}-{n}@contoso.example"
    b = browser.Browser(APP_REDIRECT)
    go.wait()
    with counts.lock:
        counts.started += 1
    try:
        page = b.go(authorize())
        link = re.search(r'<a id="createAccount" href="([^"]+)"', page[2])
        page = b.go(urllib.parse.urljoin(page[0], html.unescape(link.group(1))))
        action, fields = main_form(page)
        with counts.lock:
            counts.submitted += 1
            counts.submitted_emails.append(email)
        callback = b.go(action, fill(fields, email, password_of(email)))
        if not (isinstance(callback, dict) and "code" in callback):
            raise RuntimeError(f"no code: {str(callback)[:200]}")
        with counts.lock:
            counts.answered += 1
            counts.answered_emails.append(email)
    except Exception as e:  # noqa: BLE001 — a sign-up cut short by the kill is expected
        with counts.lock:
            counts.failed += 1
            key = type(e).__name__ if counts.killed.is_set() else f"before the kill: {e!r}"[:160]
            counts.errors[key] = counts.errors.get(key, 0) + 1


def start_server(log):
    proc = subprocess.Popen([BIN, "serve", "--config", CONFIG], stdout=log, stderr=log)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{TF}/healthz", timeout=1)
            return proc
        except Exception:  # noqa: BLE001 — not up yet
            if proc.poll() is not None:
                raise RuntimeError("trustframe exited at start")
            time.sleep(0.1)
    raise RuntimeError("trustframe did not start")


def sign_in(email):
    b = browser.Browser(APP_REDIRECT)
    action, fields = main_form(b.go(authorize()))
    callback = b.go(action, fill(fields, email, password_of(email)))
    return isinstance(callback, dict) and "code" in callback


def main():
    t0 = time.monotonic()
    log = open(os.path.join(os.path.dirname(DB), "trustframe.log"), "ab")
    server = start_server(log)
    counts = Counts()
    go = threading.Event()
    threads = [threading.Thread(target=sign_up, args=(n, counts, go), daemon=True)
               for n in range(SIGNUPS)]
    for t in threads:
        t.start()
    go.set()
    deadline = time.monotonic() + 90
    while counts.answered < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.01)
    with counts.lock:
        counts.killed.set()
        in_flight = counts.submitted - counts.answered - counts.failed
        answered_at_kill = counts.answered
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    print(f"SIGKILL after {time.monotonic() - t0:.1f} s: {answered_at_kill} answered, "
          f"{in_flight} sign-up forms posted and unanswered")
    for t in threads:
        t.join(timeout=60)

    server = start_server(log)
    try:
        db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
        missing = []
        for email in counts.answered_emails:
            row = db.execute(
                "SELECT u.password_hash FROM identities i JOIN users u ON u.object_id = i.object_id "
                "WHERE i.issuer_assigned_id_key = ?", (email.lower(),)).fetchone()
            if row is None or not row[0]:
                missing.append(email)
        ours = f"crash-{RUN}-%"
        accounts = db.execute(
            "SELECT count(DISTINCT object_id) FROM identities WHERE issuer_assigned_id_key LIKE ?",
            (ours,)).fetchone()[0]
        users_without_identity = db.execute(
            "SELECT count(*) FROM users u WHERE NOT EXISTS "
            "(SELECT 1 FROM identities i WHERE i.object_id = u.object_id)").fetchone()[0]
        identities_without_user = db.execute(
            "SELECT count(*) FROM identities i WHERE NOT EXISTS "
            "(SELECT 1 FROM users u WHERE u.object_id = i.object_id)").fetchone()[0]
        local_without_password = db.execute(
            "SELECT count(*) FROM identities i JOIN users u ON u.object_id = i.object_id "
            "WHERE i.issuer_assigned_id_key LIKE ? AND (u.password_hash IS NULL OR "
            "u.password_hash = '')", (ours,)).fetchone()[0]
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        db.close()
        # The pages agree with the rows: a sample of answered sign-ups signs in after the restart.
        sample = counts.answered_emails[:: max(1, len(counts.answered_emails) // 20)][:20]
        signed_in = sum(1 for e in sample if sign_in(e))
    finally:
        server.terminate()
        server.wait()

    half_written = users_without_identity + identities_without_user + local_without_password
    print(f"sign-ups started: {counts.started}")
    print(f"answered (authorization code received): {counts.answered}")
    print(f"cut short by the kill: {counts.failed} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.errors.items()))})")
    print(f"answered and found after the restart: {len(counts.answered_emails) - len(missing)} of {counts.answered}")
    print(f"accounts in the database after the restart: {accounts} "
          f"({accounts - (counts.answered - len(missing))} written but never answered)")
    print(f"half-written accounts: {half_written} (users without identity {users_without_identity}, "
          f"identities without user {identities_without_user}, no password hash {local_without_password})")
    print(f"signed in after the restart: {signed_in} of {len(sample)} sampled")
    print(f"integrity_check: {integrity}; {time.monotonic() - t0:.1f} s")
    errors_before_kill = sum(v for k, v in counts.errors.items() if k.startswith("before the kill"))
    bad = (missing or half_written or integrity != "ok" or signed_in != len(sample)
           or counts.answered == 0 or errors_before_kill)
    if missing:
        print("answered but missing:", missing[:10])
    if errors_before_kill:
        print("sign-ups failed before the kill: the test did not measure what it should")
    print("FAIL" if bad else "ok: every answered sign-up survived the kill, none is half-written")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
