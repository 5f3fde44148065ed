"""More identity checks through the real server: login timing does not tell unknown IDs from
known ones (at the real Argon2id cost), a lockout reaches the security officer as exactly one
grouped alert mail through a real SMTP relay, a session dies the moment its account stops being
active, and HTTP Basic authentication is never a way into the JSON API.
"""
import base64
import json
import sqlite3
import statistics
import time

from test_alerts import alerts, body_of, configure, relay  # noqa: F401 (relay: the fixture)
from conftest import run_kura
from test_identity import (LOGIN, add_user, admin_otp, elevate, enrol, fast, kura_user, login,
                           post, totp)
from test_audit import records
from test_mail import certs  # noqa: F401 (the fixture)

ME = "/api/v1/me"


def without_request_id(r):
    body = r.json()
    body["error"].pop("request_id")
    return body


def test_unknown_and_known_ids_answer_alike_in_the_same_time(instance):
    """Enumeration by timing: the default Argon2id cost (64 MiB, 2 passes) stays as shipped,
    because a cheap hash would hide a difference that the real cost would not (or vice versa).
    Throttling, back-off and lockout are out of the way so that every attempt reaches the
    password check; the two kinds alternate so that drift affects both alike. On an idle
    2-core machine the medians differ by about 5%; a CPU-bound job running beside the test
    (a login benchmark) has been seen to push the known ID's median 30% above the other's."""
    instance.init()
    instance.set("session", "throttle_exempt", "127.0.0.1")
    instance.set("password", "backoff_after", "0")
    instance.set("password", "lockout_threshold", "1000")
    server = instance.serve()
    s = server.session()
    # One untimed attempt each: the TLS handshake, first allocations, page faults.
    for user in ("ghost", "admin"):
        _, r = login(server, user, "warm-up password", session=s)
        assert r.status_code == 401
    times = {"ghost": [], "admin": []}
    bodies = {"ghost": [], "admin": []}
    for i in range(31):  # enough samples that one slow slice does not move a median
        order = ("ghost", "admin") if i % 2 == 0 else ("admin", "ghost")
        for user in order:
            t = time.perf_counter()
            _, r = login(server, user, f"wrong password number {i}", session=s)
            times[user].append(time.perf_counter() - t)
            assert r.status_code == 401
            assert r.headers.get("Set-Cookie") is None
            bodies[user].append((without_request_id(r), r.headers["Content-Type"]))
    everything = bodies["ghost"] + bodies["admin"]
    assert all(b == everything[0] for b in everything), everything
    unknown, known = statistics.median(times["ghost"]), statistics.median(times["admin"])
    assert abs(unknown - known) < 0.2 * min(unknown, known), (
        f"median {unknown * 1000:.1f} ms for an unknown ID, {known * 1000:.1f} ms for a known "
        f"one: {times}")
    assert server.stop() == 0


def test_lockout_sends_one_grouped_alert_mail(instance, relay, certs, tmp_path):  # noqa: F811
    configure(instance, relay, certs, mail_delay=10)
    instance.set("password", "hash_memlimit_kib", "8192")
    instance.set("password", "hash_opslimit", "1")
    instance.set("password", "backoff_after", "0")
    server = instance.serve()
    add_user(instance, tmp_path, "carol")
    for i in range(10):
        _, r = login(server, "carol", f"wrong password {i} for carol")
        assert r.status_code == 401
    got = relay.wait_records(1, timeout=60)
    msg, body = body_of(got[0])
    assert got[0]["rcpt_tos"] == ["officer@example.org", "cso@example.org"]
    assert "警報 / alert" in msg["Subject"]
    # The 5th consecutive failure raised auth_failures, the lock (10th) account_change; both
    # are about carol and both are in this one mail.
    assert "auth_failures" in body and "account_change" in body
    assert '"carol"' in body
    assert "同じアカウントでログインの失敗が続いています" in body
    assert "アカウントが変更されました" in body
    listed = {(a["rule"], a["key"]): a for a in alerts(instance.data)}
    assert ("auth_failures", "carol") in listed and ("account_change", "carol") in listed
    assert listed[("auth_failures", "carol")]["hits"] >= 6  # failures 5 to 10, one alert
    assert not [k for k in listed if k[0] == "source_failures"]  # 10 < [alerts] source_failures
    shown = kura_user(instance, "show", "carol", "--json").stdout
    assert '"locked_by_failures":true' in shown
    assert server.stop() == 0  # stopping sends whatever still waits: nothing may
    assert len(relay.records()) == 1


def test_a_session_ends_when_its_account_stops_being_active(instance, tmp_path):
    server = fast(instance)
    otp = add_user(instance, tmp_path, "erin")
    t, r = login(server, "erin", otp)
    assert r.status_code == 200
    assert t.get(server.url + ME, timeout=30).status_code == 200
    # Behind the account administration's back (which would also delete the sessions): the
    # session row stays, and the session check itself must refuse it on the next request.
    db = sqlite3.connect(instance.data / "kura.db", timeout=30)
    with db:
        db.execute("UPDATE accounts SET status = 'disabled' WHERE id = 'erin'")
    assert db.execute("SELECT count(*) FROM sessions WHERE account_id = 'erin'").fetchone()[0] == 1
    r = t.get(server.url + ME, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    # ... and delete it, so that enabling the account again does not revive it.
    assert db.execute("SELECT count(*) FROM sessions WHERE account_id = 'erin'").fetchone()[0] == 0
    db.close()
    kura_user(instance, "enable", "erin")
    assert t.get(server.url + ME, timeout=30).status_code == 401

    # Through `kura user disable`: a fresh session is refused at its next request too.
    t, r = login(server, "erin", otp)
    assert r.status_code == 200
    kura_user(instance, "disable", "erin", "--reason", "left the project")
    assert t.get(server.url + ME, timeout=30).status_code == 401


def test_basic_authentication_is_not_a_session(instance):
    server = fast(instance)
    password = admin_otp(instance)
    s = server.session()
    for user, secret in (("admin", password), ("admin", "wrong"), ("nobody", "x")):
        r = s.get(server.url + ME, auth=(user, secret), timeout=30)
        assert r.status_code == 401, (user, r.text)
        assert r.json()["error"]["code"] == "unauthenticated"
        assert r.headers.get("Set-Cookie") is None
    # A Basic header beside a session changes nothing: the session says who it is.
    t, r = login(server, "admin", password)
    assert r.status_code == 200
    cred = base64.b64encode(b"nobody:x").decode()
    r = t.get(server.url + ME, headers={"Authorization": f"Basic {cred}"}, timeout=30)
    assert r.status_code == 200 and r.json()["user"] == "admin"
    # Nor does Basic open a session at the login endpoint.
    r = s.post(server.url + LOGIN, auth=("admin", password), timeout=30)
    assert r.status_code == 400


def test_a_sealed_credential_opens_the_emergency_account_once(instance, relay, certs,  # noqa: F811
                                                               tmp_path):
    """When two administrators cannot be reached: the envelope's code enables the account alone,
    once; every attempt with a code reaches the security officer by mail."""
    configure(instance, relay, certs, mail_delay=1)
    instance.set("password", "hash_memlimit_kib", "8192")
    instance.set("password", "hash_opslimit", "1")
    instance.set("session", "throttle_exempt", "127.0.0.1")  # failures counted per ID only
    server = instance.serve()
    otp = add_user(instance, tmp_path, "emergency", "--roles", "user,admin")
    kura_user(instance, "break-glass", "emergency", "--designate", "--reason", "BCP plan 3.2")
    sealed = tmp_path / "envelope.txt"
    kura_user(instance, "break-glass", "emergency", "--seal", "--minutes", "30",
              "--otp-file", str(sealed), "--reason", "envelope in safe B")
    code = sealed.read_text().strip()
    assert len(code) == 39 and code.count("-") == 7
    unseal = server.url + "/api/v1/break-glass/unseal"
    s = server.session()
    wrong = code[:-1] + ("A" if code[-1] != "A" else "B")
    for user, c in (("emergency", wrong), ("admin", code), ("ghost", code)):
        r = s.post(unseal, json={"user": user, "code": c}, timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert login(server, "emergency", otp)[1].status_code == 401
    # Typed by a hurried person from paper: lower case, spaces for dashes.
    r = s.post(unseal, json={"user": "emergency", "code": code.lower().replace("-", " ")},
               timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["user"] == "emergency" and "enabled_until" in r.json()
    e, r = login(server, "emergency", otp)
    assert r.status_code == 200, r.text
    assert e.get(server.url + ME, timeout=30).status_code == 200
    # Consumed: the envelope opens the account once.
    r = s.post(unseal, json={"user": "emergency", "code": code}, timeout=30)
    assert r.status_code == 401
    got = relay.wait_records(1, timeout=60)
    _, body = body_of(got[0])
    assert "break_glass" in body and "emergency" in body
    assert server.stop() == 0
    rows = kura_user(instance, "ledger", "emergency", "--json").stdout.splitlines()
    rows = [json.loads(x) for x in rows]
    acts = [x["action"] for x in rows]
    assert acts.count("break_glass_seal") == 1 and acts.count("break_glass_enable") == 1
    enable = rows[acts.index("break_glass_enable")]
    assert enable["actor"] == "sealed:127.0.0.1"
    assert json.loads(enable["after"])["method"] == "sealed_credential"
    assert code not in (instance.data / "kura.db").read_bytes().decode("latin-1")
    listed = {(a["rule"], a["key"]) for a in alerts(instance.data)}
    assert ("break_glass", "emergency") in listed
    recs = [x for x in records(instance.data) if x["action"] == "auth.break_glass_unseal"]
    assert [x["result"] for x in recs] == ["denied", "denied", "denied", "ok", "denied"]
    assert all(code not in json.dumps(x) and code.lower() not in json.dumps(x) for x in recs)


def test_an_older_password_in_the_history_is_refused(instance, tmp_path):
    """[password] history = 3: not only the current password but each of the last three."""
    server = fast(instance, ("password", "history", "3"))
    otp = add_user(instance, tmp_path, "ken")
    first = "first long passphrase of the river 1"
    s, csrf, _ = enrol(server, "ken", otp, first)
    second, third = "second long passphrase of the hill 2", "third long passphrase of the sea 3"
    for old, new in ((first, second), (second, third)):
        r = post(s, server, "/api/v1/me/password", csrf, {"current": old, "new": new})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf_token"]
    for reused in (first, second):
        r = post(s, server, "/api/v1/me/password", csrf, {"current": third, "new": reused})
        assert r.status_code == 422 and r.json()["error"]["rule"] == "reused", r.text
    # Refused changes change nothing: the third is still the current password.
    r = post(s, server, "/api/v1/me/password", csrf,
             {"current": third, "new": "fourth long passphrase of the sky 4"})
    assert r.status_code == 200, r.text


def test_an_operator_reaches_no_account_administration(instance, tmp_path):
    """Roles are separate: an operator, elevated or not, cannot list or change accounts, and a
    user holding no privileged role cannot elevate at all."""
    server = fast(instance)
    otp = add_user(instance, tmp_path, "olga", "--roles", "user,operator")
    s, csrf, uri = enrol(server, "olga", otp, "the operator keeps the lights on 9")
    assert s.get(server.url + "/api/v1/accounts", timeout=30).status_code == 403
    csrf = elevate(instance, server, s, csrf, uri, 31)
    assert s.get(server.url + "/api/v1/accounts", timeout=30).status_code == 403
    r = post(s, server, "/api/v1/accounts/admin/unlock", csrf, {"reason": "x"})
    assert r.status_code == 403
    assert s.get(server.url + "/api/v1/audit", timeout=30).status_code == 403
    plain = add_user(instance, tmp_path, "ume")
    u, ucsrf, uuri = enrol(server, "ume", plain, "an ordinary researcher of plums 12")
    run_kura("debug", "clock-shift", "--data", str(instance.data), "31000", check=True)
    r = post(u, server, "/api/v1/elevate", ucsrf, {"totp": totp(uuri, time.time() + 62)})
    assert r.status_code == 403, r.text
