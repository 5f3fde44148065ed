"""More identity checks through the real server: login timing does not tell unknown IDs from
known ones (at the real Argon2id cost), a lockout reaches the security officer as exactly one
grouped alert mail through a real SMTP relay, a session dies the moment its account stops being
active, and HTTP Basic authentication is never a way into the JSON API.
"""
import base64
import sqlite3
import statistics
import time

from test_alerts import alerts, body_of, configure, relay  # noqa: F401 (relay: the fixture)
from test_identity import LOGIN, add_user, admin_otp, fast, kura_user, login
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
