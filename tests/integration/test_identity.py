"""Identity through the real server and CLI: logins, sessions, CSRF, uniform refusals, lockout,
back-off, enrolment sessions, and `kura user` with its ledger.

Each test starts its own `kura serve` on a fresh data folder (the `instance` fixture). Argon2id
runs at a small cost here ([password] hash_memlimit_kib) so that tests with many logins stay
fast; the cost itself is measured by bench/login.sh.
"""
import csv
import io
import json
import os
import stat

from conftest import run_kura
from test_audit import records

LOGIN = "/api/v1/session"


def fast(instance, *conf):
    """Serves with a cheap Argon2id and the given (section, key, value) settings."""
    instance.init()
    instance.set("password", "hash_memlimit_kib", "8192")
    instance.set("password", "hash_opslimit", "1")
    for section, key, value in conf:
        instance.set(section, key, value)
    return instance.serve()


def admin_otp(instance):
    return instance.otp_file.read_text().strip()


def login(server, user, password, totp=None, session=None):
    s = session or server.session()
    body = {"user": user, "password": password}
    if totp is not None:
        body["totp"] = totp
    return s, s.post(server.url + LOGIN, json=body, timeout=60)


def kura_user(instance, *args, check=True):
    return run_kura("user", *args, "--data", str(instance.data), check=check)


def add_user(instance, tmp_path, uid, *extra):
    otp = tmp_path / f"{uid}.otp"
    kura_user(instance, "add", uid, "--otp-file", str(otp), "--reason", "test", *extra)
    assert stat.S_IMODE(os.stat(otp).st_mode) == 0o600
    return otp.read_text().strip()


def test_login_gives_an_enrolment_session_with_a_strict_cookie(instance):
    server = fast(instance)
    s, r = login(server, "admin", admin_otp(instance))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == "admin" and body["kind"] == "enrolment"
    assert "admin" in body["roles"] and len(body["csrf_token"]) == 43
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-kura_session=")
    for attr in ("Path=/", "Secure", "HttpOnly", "SameSite=Strict"):
        assert attr in cookie
    assert "Domain" not in cookie
    me = s.get(server.url + "/api/v1/me", timeout=30)
    assert me.status_code == 200
    assert me.json()["session"] == "enrolment" and me.json()["must_change_password"] is True
    # The restricted session reaches nothing beyond enrolment: elevation is refused.
    r = s.post(server.url + "/api/v1/elevate", json={"totp": "123456"},
               headers={"X-CSRF-Token": body["csrf_token"]}, timeout=30)
    assert r.status_code == 403


def test_refusals_are_identical_and_the_reason_is_only_in_the_audit_log(instance, tmp_path):
    server = fast(instance)
    bob = add_user(instance, tmp_path, "bob")
    kura_user(instance, "disable", "bob", "--reason", "left")
    bodies = []
    for user, pw in (("nobody", "x" * 20), ("admin", "wrong password here"), ("bob", bob)):
        _, r = login(server, user, pw)
        assert r.status_code == 401
        body = r.json()
        body["error"].pop("request_id")
        bodies.append((body, r.headers.get("Set-Cookie")))
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0][1] is None
    assert server.stop() == 0
    why = {(rec["object"], rec["reason"]) for rec in records(instance.data)
           if rec["action"] == "auth.login"}
    assert {("nobody", "unknown_id"), ("admin", "bad_password"), ("bob", "disabled")} <= why
    # Secrets never reach the log.
    text = json.dumps(records(instance.data))
    assert "wrong password here" not in text and admin_otp(instance) not in text


def test_malformed_login_bodies_are_400(instance):
    server = fast(instance)
    s = server.session()
    bad = [b"not json", b"[]", b'{"user":"a"}', b'{"user":"a","password":"b","extra":"c"}',
           b'{"user":"a","password":1}', b'{"user":"a","user":"b","password":"c"}',
           b'{"user":"a\\u0000b","password":"c"}', b'{"user":"\xff","password":"c"}',
           b'{"user":"' + b"a" * 300 + b'","password":"c"}']
    for body in bad:
        r = s.post(server.url + LOGIN, data=body, headers={"Content-Type": "application/json"},
                   timeout=30)
        assert r.status_code == 400, body


def test_logout_needs_the_csrf_token(instance):
    server = fast(instance)
    s, r = login(server, "admin", admin_otp(instance))
    csrf = r.json()["csrf_token"]
    assert s.delete(server.url + LOGIN, timeout=30).status_code == 403
    assert s.delete(server.url + LOGIN, headers={"X-CSRF-Token": "x" * 43},
                    timeout=30).status_code == 403
    r = s.delete(server.url + LOGIN, headers={"X-CSRF-Token": csrf}, timeout=30)
    assert r.status_code == 200 and "Max-Age=0" in r.headers["Set-Cookie"]
    # The cookie jar dropped it; sending the old token again must fail too.
    assert s.get(server.url + "/api/v1/me", timeout=30).status_code == 401


def test_lockout_alert_and_unlock(instance, tmp_path):
    server = fast(instance, ("password", "backoff_after", "0"))
    otp = add_user(instance, tmp_path, "carol")
    for i in range(10):
        _, r = login(server, "carol", f"wrong {i} password")
        assert r.status_code == 401
    _, r = login(server, "carol", otp)
    assert r.status_code == 401  # locked: the right password no longer opens it
    shown = json.loads(kura_user(instance, "show", "carol", "--json").stdout)
    assert shown["locked_by_failures"] is True and shown["failed_logins"] == 10
    kura_user(instance, "unlock", "carol", "--reason", "verified by phone")
    _, r = login(server, "carol", otp)
    assert r.status_code == 200
    assert server.stop() == 0
    recs = records(instance.data)
    locks = [x for x in recs if x["action"] == "account.lock"]
    assert len(locks) == 1 and locks[0]["object"] == "carol"
    reasons = [x["reason"] for x in recs if x["action"] == "auth.login" and x["object"] == "carol"]
    assert reasons.count("bad_password") == 10 and "locked" in reasons


def test_back_off_answers_429_for_known_and_unknown_ids_alike(instance):
    server = fast(instance, ("session", "throttle_exempt", "127.0.0.1"))
    for user in ("admin", "ghost"):
        for i in range(4):
            _, r = login(server, user, f"wrong {i} password")
            assert r.status_code == 401
        _, r = login(server, user, "another wrong password")
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "1"
        assert r.json()["error"]["code"] == "too_many_attempts"


def test_password_spraying_from_one_source_is_throttled(instance):
    server = fast(instance)
    for i in range(4):
        _, r = login(server, f"user{i}", "Summer2026!")
        assert r.status_code == 401
    _, r = login(server, "user9", "Summer2026!")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_user_cli_and_ledger(instance, tmp_path):
    fast(instance)
    add_user(instance, tmp_path, "dave", "--roles", "user,pi", "--name", "Dave Suzuki",
             "--email", "dave@example.org", "--valid-until", "2030-03-31")
    kura_user(instance, "set-roles", "dave", "--roles", "user", "--reason", "project ended")
    kura_user(instance, "disable", "dave")
    kura_user(instance, "enable", "dave")
    r = kura_user(instance, "reset-password", "dave", check=False)
    assert r.returncode == 2  # --verified-by is required
    kura_user(instance, "reset-password", "dave", "--verified-by", "callback",
              "--verification", "called +81-3-0000-0000", "--otp-file",
              str(tmp_path / "dave2.otp"))
    kura_user(instance, "reset-mfa", "dave", "--verified-by", "in_person")
    listed = [json.loads(line) for line in kura_user(instance, "list", "--json").stdout.splitlines()]
    assert [a["id"] for a in listed] == ["admin", "dave"]
    dave = json.loads(kura_user(instance, "show", "dave", "--json").stdout)
    assert dave["roles"] == "user" and dave["must_change_password"] is True
    rows = list(csv.DictReader(io.StringIO(kura_user(instance, "ledger", "dave").stdout)))
    assert [row["action"] for row in rows] == [
        "create", "roles", "disable", "enable", "reset_password", "reset_mfa"]
    assert rows[1]["reason"] == "project ended"
    assert json.loads(rows[1]["before"]) == {"roles": ["user", "pi"]}
    assert json.loads(rows[4]["after"])["verified_by"] == "callback"
    review = list(csv.DictReader(io.StringIO(kura_user(instance, "review").stdout)))
    assert {row["id"] for row in review} == {"admin", "dave"}
    # Every command was audited with the OS user as actor.
    recs = records(instance.data)
    actions = [x["action"] for x in recs if x["action"].startswith("cli.user.")]
    for a in ("cli.user.add", "cli.user.set-roles", "cli.user.disable", "cli.user.ledger",
              "cli.user.reset-password", "cli.user.reset-mfa", "cli.user.review"):
        assert a in actions
    # An existing OTP file is never overwritten; a used ID is never reused.
    r = kura_user(instance, "reset-password", "dave", "--verified-by", "callback",
                  "--otp-file", str(tmp_path / "dave2.otp"), check=False)
    assert r.returncode == 1
    r = kura_user(instance, "add", "dave", check=False)
    assert r.returncode == 1


def test_disabling_an_account_ends_its_sessions(instance, tmp_path):
    server = fast(instance)
    s, r = login(server, "admin", admin_otp(instance))
    assert r.status_code == 200
    otp = add_user(instance, tmp_path, "erin")
    t, r = login(server, "erin", otp)
    assert r.status_code == 200
    assert t.get(server.url + "/api/v1/me", timeout=30).status_code == 200
    kura_user(instance, "disable", "erin")
    assert t.get(server.url + "/api/v1/me", timeout=30).status_code == 401
    assert s.get(server.url + "/api/v1/me", timeout=30).status_code == 200
