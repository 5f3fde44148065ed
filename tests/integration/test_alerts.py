"""Alerts end to end: a real server, real clients, a real SMTP relay (aiosmtpd) and a real HTTPS
webhook receiver. Bursts of refused and malformed requests become alerts grouped into one
bilingual mail; configuration changes and a failing audit log raise alerts; operators list and
acknowledge them with the CLI, which is audited. Waits poll for the event itself (a mail file,
a database row), never a guessed delay."""
import email
import email.policy
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import free_port, run_kura
from helpers import request_bytes, send_raw, wait_until
from smtp_server import SmtpServer
from test_audit import records
from test_mail import certs  # noqa: F401 (the fixture)


class Webhook:
    """An HTTPS server that stores every POSTed JSON body."""

    def __init__(self, cert, key):
        self.bodies = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                n = int(self.headers["Content-Length"])
                outer.bodies.append((self.headers["Content-Type"], json.loads(self.rfile.read(n))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def relay(tmp_path, certs):  # noqa: F811
    r = SmtpServer(free_port(), tmp_path / "relay", certs["cert"], certs["key"])
    r.start()
    yield r
    r.stop()


def configure(instance, relay, certs, **alerts):  # noqa: F811
    instance.init()
    instance.set("mail", "relay", f"127.0.0.1:{relay.port}")
    instance.set("mail", "ca_file", certs["cert"])
    instance.set("mail", "from", "kura@kura.example.org")
    instance.set("alerts", "mail_to", "officer@example.org, cso@example.org")
    for k, v in alerts.items():
        instance.set("alerts", k, str(v))


def alerts(data, *args):
    proc = run_kura("alerts", "list", "--data", str(data), "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def body_of(rec):
    msg = email.message_from_bytes(rec["raw"], policy=email.policy.default)
    return msg, msg.get_content()


def wrong_host(port, n):
    for _ in range(n):
        resp = send_raw(port, request_bytes(port, "GET", "/healthz", b"Host: evil.example\r\n",
                                            host=False))
        assert resp.status == 421


def traversal(port, n):
    for _ in range(n):
        assert send_raw(port, request_bytes(port, "GET", "/a/../../etc/passwd")).status == 400


def test_bursts_become_alerts_in_one_mail_and_are_acknowledged(instance, relay, certs):  # noqa: F811
    configure(instance, relay, certs, access_denied=5, malformed=5, mail_delay=3)
    with Webhook(certs["cert"], certs["key"]) as hook:
        instance.set("alerts", "webhook_url", hook.url)
        instance.set("alerts", "webhook_ca_file", certs["cert"])
        server = instance.serve()
        wrong_host(server.port, 8)
        traversal(server.port, 8)
        got = relay.wait_records(1, timeout=60)
        assert got[0]["rcpt_tos"] == ["officer@example.org", "cso@example.org"]
        msg, body = body_of(got[0])
        assert msg["Auto-Submitted"] == "auto-generated"
        assert "警報 / alert" in msg["Subject"] and "+1 more" in msg["Subject"]
        assert "access_denied" in body and "malformed" in body
        assert "拒否されたアクセスが続いています" in body and "repeated refused requests" in body
        assert '"127.0.0.1"' in body
        wait_until(lambda: hook.bodies, 30, "the webhook POST")
        ctype, payload = hook.bodies[0]
        assert ctype == "application/json"
        assert payload["total"] == 2
        assert {a["rule"] for a in payload["alerts"]} == {"access_denied", "malformed"}
        listed = alerts(instance.data)
        assert {a["rule"] for a in listed} == {"access_denied", "malformed"}
        denied = next(a for a in listed if a["rule"] == "access_denied")
        assert denied["key"] == "127.0.0.1" and denied["hits"] >= 4
        # Each new alert is itself in the audit log.
        raised = [r for r in records(instance.data) if r["action"] == "alert.raised"]
        assert sorted(r["detail"]["rule"] for r in raised) == ["access_denied", "malformed"]

        # Acknowledging needs an open alert and a one-line note; it is audited.
        proc = run_kura("alerts", "ack", "--data", str(instance.data), str(denied["id"]),
                        "--note", "scanner at 127.0.0.1; blocked at the firewall / 遮断済み")
        assert proc.returncode == 0, proc.stderr
        again = run_kura("alerts", "ack", "--data", str(instance.data), str(denied["id"]),
                         "--note", "twice")
        assert again.returncode == 1 and "no open alert" in again.stderr
        bad = run_kura("alerts", "ack", "--data", str(instance.data), "1", "--note", "a\nb")
        assert bad.returncode == 2
        assert [a["rule"] for a in alerts(instance.data)] == ["malformed"]
        everything = alerts(instance.data, "--all")
        acked = next(a for a in everything if a["id"] == denied["id"])
        assert acked["acknowledged"] and acked["ack_note"].endswith("遮断済み")
        assert acked["ack_by"].startswith("cli:")
        acks = [r for r in records(instance.data) if r["action"] == "cli.alerts.ack"]
        assert len(acks) == 1 and acks[0]["object"] == str(denied["id"])
        assert acks[0]["detail"]["note"].startswith("scanner")
        assert any(r["action"] == "cli.alerts.list" for r in records(instance.data))
        assert server.stop() == 0
    # One mail for the two alerts: nothing more was queued or sent.
    assert len(relay.records()) == 1
    assert not [p for p in (instance.data / "spool" / "mail").iterdir() if p.is_file()]


def test_config_change_raises_an_alert(instance, relay, certs):  # noqa: F811
    configure(instance, relay, certs, mail_delay=1)
    instance.serve().stop()
    instance.set("http", "shutdown_timeout", "7")
    server = instance.serve()
    got = relay.wait_records(1, timeout=60)
    _, body = body_of(got[0])
    assert "config_change" in body and "設定が変更されました" in body
    assert "http.shutdown_timeout" in body
    assert server.stop() == 0
    assert [a["rule"] for a in alerts(instance.data)] == ["config_change"]


def test_unclean_stop_raises_an_alert(instance, relay, certs):  # noqa: F811
    configure(instance, relay, certs, mail_delay=1)
    server = instance.serve()
    server.proc.kill()
    server.proc.wait()
    server._log.close()
    server = instance.serve()
    got = relay.wait_records(1, timeout=60)
    _, body = body_of(got[0])
    assert "unclean_stop" in body
    assert server.stop() == 0


def test_failing_audit_log_raises_an_alert(instance, relay, certs):  # noqa: F811
    configure(instance, relay, certs, mail_delay=1)
    server = instance.serve()
    run_kura("debug", "audit-fail", "--data", str(instance.data), "on", check=True)
    # The next audited request finds the log failing (and is refused).
    assert send_raw(server.port, request_bytes(server.port, "GET", "/_test/whoami")).status == 503
    got = relay.wait_records(1, timeout=60)
    _, body = body_of(got[0])
    assert "audit_failing" in body and "監査ログに書き込めません" in body
    run_kura("debug", "audit-fail", "--data", str(instance.data), "off", check=True)
    assert server.stop() == 0
    assert "audit_failing" in [a["rule"] for a in alerts(instance.data)]


def test_alerts_usage(instance):
    instance.init()
    assert run_kura("alerts").returncode == 2
    assert run_kura("alerts", "list").returncode == 2
    assert run_kura("alerts", "ack", "--data", str(instance.data), "x", "--note", "n").returncode == 2
    assert run_kura("alerts", "ack", "--data", str(instance.data), "1").returncode == 2
    proc = run_kura("alerts", "ack", "--data", str(instance.data), "5", "--note", "n")
    assert proc.returncode == 1 and "no open alert #5" in proc.stderr
    proc = run_kura("alerts", "list", "--data", str(instance.data))
    assert proc.returncode == 0 and "no open alerts" in proc.stderr


def test_monthly_report(instance, tmp_path):
    """kura report monthly: the month's records, alerts with their handling and changes, the
    verdict of a full verification; a tampered log is reported as such."""
    import csv
    import datetime
    import io

    from test_audit import rewrite_current

    instance.init()
    instance.set("alerts", "access_denied", "3")
    server = instance.serve()
    wrong_host(server.port, 4)
    traversal(server.port, 2)
    wait_until(lambda: alerts(instance.data), 30, "the access_denied alert")
    aid = alerts(instance.data)[0]["id"]
    run_kura("alerts", "ack", "--data", str(instance.data), str(aid), "--note",
             "<b>scanner</b>, blocked", check=True)
    assert server.stop() == 0
    month = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")
    out = tmp_path / "reports"
    proc = run_kura("report", "monthly", "--data", str(instance.data), "--month", month, "--out",
                    str(out))
    assert proc.returncode == 0, proc.stderr
    page = (out / f"kura-audit-{month}.html").read_text()
    assert "正常 / OK" in page and "access_denied" in page
    assert "&lt;b&gt;scanner&lt;/b&gt;, blocked" in page and "<b>scanner" not in page
    assert oct((out / f"kura-audit-{month}.html").stat().st_mode & 0o777) == "0o600"
    rows = list(csv.DictReader(io.StringIO((out / f"kura-audit-{month}-sources.csv").read_text())))
    local = next(r for r in rows if r["source_ip"] == "127.0.0.1")
    assert int(local["refused"]) == 4 and int(local["errors"]) == 2
    changes = (out / f"kura-audit-{month}-changes.csv").read_text()
    assert "cli.alerts.ack" in changes and "server.start" in changes and "cli.init" in changes
    alerts_csv = list(csv.DictReader(io.StringIO(
        (out / f"kura-audit-{month}-alerts.csv").read_text())))
    assert alerts_csv[0]["status"] == "acknowledged"
    assert any(r["action"] == "cli.report.monthly" for r in records(instance.data))

    # A rewritten record: the report's first section says so.
    rewrite_current(instance.data, lambda rs: [rs[0].replace(b'"cli:', b'"CLI:')] + rs[1:])
    proc = run_kura("report", "monthly", "--data", str(instance.data), "--month", month, "--out",
                    str(out))
    assert proc.returncode == 0, proc.stderr
    assert "異常 / FAILED" in (out / f"kura-audit-{month}.html").read_text()
    # Months the index cannot answer for are refused, not reported as empty.
    assert run_kura("report", "monthly", "--data", str(instance.data), "--month",
                    "2001-01").returncode == 1
    assert run_kura("report", "monthly", "--data", str(instance.data), "--month",
                    "2026-13").returncode == 2
