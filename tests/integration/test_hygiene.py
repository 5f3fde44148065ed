"""Account hygiene through the real server (issue item 9): the daily job, on the test clock,
expires accounts past valid-until, disables accounts unused for [password] inactive_days but
keeps the last administrator, leaves a ledger row and an audit record per change (which the
account_change alert rule reports), and the accounts it changed can no longer log in.

No command is needed to run the job: `kura debug clock-shift` moves the monotonic clock with
the wall clock, so the server's hourly maintenance falls due at once and runs within one sweep
(250 ms), and the shifted wall clock is a new day for the job.
"""
import csv
import datetime
import io
import json

from conftest import run_kura
from helpers import wait_until
from test_alerts import alerts
from test_audit import records
from test_identity import add_user, admin_otp, fast, kura_user, login

DAY_MS = 24 * 3600 * 1000


def shift(instance, days):
    run_kura("debug", "clock-shift", "--data", str(instance.data), str(days * DAY_MS), check=True)


def show(instance, uid):
    return json.loads(kura_user(instance, "show", uid, "--json").stdout)


def ledger(instance, uid):
    return list(csv.DictReader(io.StringIO(kura_user(instance, "ledger", uid).stdout)))


def account_records(instance):
    return [r for r in records(instance.data) if r["action"].startswith("account.")]


def wait_for_record(instance, action, obj):
    return wait_until(lambda: [r for r in account_records(instance)
                               if r["action"] == action and r["object"] == obj],
                      30, f"{action} of {obj}", interval=0.1)


def utc_day(days_from_now):
    return (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(days=days_from_now)).strftime("%Y-%m-%d")


def test_daily_job_expires_and_disables_unused_accounts(instance, tmp_path):
    server = fast(instance)
    old = add_user(instance, tmp_path, "olduser")
    fresh = add_user(instance, tmp_path, "fresh")
    temp = add_user(instance, tmp_path, "temp", "--valid-until", utc_day(30))

    # Day 60: temp's validity has ended; nobody is unused for 90 days yet.
    shift(instance, 60)
    expired = wait_for_record(instance, "account.expire", "temp")
    assert expired[0]["actor"] == "system" and expired[0]["result"] == "ok"
    assert expired[0]["detail"] == {"cause": "valid_until_passed"}
    assert show(instance, "temp")["status"] == "expired"
    _, r = login(server, "fresh", fresh)  # fresh is in use from here on
    assert r.status_code == 200, r.text

    # Day 91: olduser (created on day 0, never logged in) is disabled; fresh (day 60) is not,
    # and neither is the administrator, who is unused too but the last one.
    shift(instance, 31)
    disabled = wait_for_record(instance, "account.disable", "olduser")
    assert disabled[0]["actor"] == "system"
    assert disabled[0]["detail"]["cause"] == "unused"
    assert disabled[0]["detail"]["inactive_days"] == 90
    server.wait_for_log("event=hygiene_kept_last_admin", 30)
    assert "account=admin" in server.log()
    assert show(instance, "olduser")["status"] == "disabled"
    assert show(instance, "fresh")["status"] == "active"
    assert show(instance, "admin")["status"] == "active"

    rows = ledger(instance, "olduser")
    assert [row["action"] for row in rows] == ["create", "disable"]
    assert rows[1]["actor"] == "system:hygiene" and rows[1]["reason"] == "unused for 90 days"
    assert json.loads(rows[1]["before"]) == {"status": "active"}
    assert json.loads(rows[1]["after"]) == {"status": "disabled"}
    rows = ledger(instance, "temp")
    assert [row["action"] for row in rows] == ["create", "expire"]
    assert rows[1]["actor"] == "system:hygiene" and rows[1]["reason"] == "valid_until passed"
    assert [row["action"] for row in ledger(instance, "fresh")] == ["create"]
    assert not [row for row in ledger(instance, "admin") if row["actor"] == "system:hygiene"]

    # The changed accounts cannot log in, with the one answer every refusal gets.
    for uid, otp in (("olduser", old), ("temp", temp)):
        _, r = login(server, uid, otp)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"
    _, r = login(server, "admin", admin_otp(instance))
    assert r.status_code == 200

    # Each change raised the account_change alert, keyed by the account.
    wait_until(lambda: {("account_change", "olduser"), ("account_change", "temp")}
               <= {(a["rule"], a["key"]) for a in alerts(instance.data)}, 30,
               "the account_change alerts", interval=0.2)
    assert server.stop() == 0
    # One record per change, and nothing for the accounts left alone.
    changed = [(r["action"], r["object"]) for r in account_records(instance)]
    assert changed == [("account.expire", "temp"), ("account.disable", "olduser")]


def test_inactivity_rule_off_and_idempotent_runs(instance, tmp_path):
    server = fast(instance, ("password", "inactive_days", "0"))
    add_user(instance, tmp_path, "sleeper")
    add_user(instance, tmp_path, "temp", "--valid-until", utc_day(10))
    add_user(instance, tmp_path, "later", "--valid-until", utc_day(401))
    shift(instance, 400)
    wait_for_record(instance, "account.expire", "temp")  # the job has run
    assert show(instance, "sleeper")["status"] == "active"
    # The next day's run expires `later`, and finds nothing else to do again.
    shift(instance, 1)
    wait_for_record(instance, "account.expire", "later")
    assert server.stop() == 0
    changed = [(r["action"], r["object"]) for r in account_records(instance)]
    assert changed == [("account.expire", "temp"), ("account.expire", "later")]
    assert [row["action"] for row in ledger(instance, "sleeper")] == ["create"]
    assert [row["action"] for row in ledger(instance, "temp")] == ["create", "expire"]
    assert "hygiene_kept_last_admin" not in server.log()
