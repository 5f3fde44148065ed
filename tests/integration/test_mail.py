"""kura's mail against a real SMTP server on loopback (aiosmtpd, tests/integration/smtp_server.py).

The mailer is a library without a CLI yet, so these tests drive it through `mail-send` (built
next to `kura` in test-hooks builds, tests/mail-send.c): it queues one message into a spool
folder and runs the mailer until the spool is empty. Retries are driven with the test clock:
SIGUSR1 moves mail-send's clock forward an hour and kicks the mailer. Every wait polls a log
line, a file or a process with a deadline; nothing sleeps to synchronise.

Covered: a Japanese message arrives over STARTTLS with the right envelope, headers and body;
a wrong CA keeps the mail spooled; relay down, then up, delivers after a retry; 451 is
retried; 550 moves the mail to failed/ with the reason; AUTH with a 0600 password file works,
a wrong password defers, a 0644 file is refused; implicit TLS; plaintext only on loopback.
"""
import email
import email.policy
import email.utils
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import KURA_BIN, SANITIZER_MARKERS, free_port
from smtp_server import SmtpServer

MAIL_SEND = os.environ.get("KURA_MAIL_SEND") or str(Path(KURA_BIN).parent / "mail-send")
FROM = "kura@kura.example.org"
TO = ["officer@example.org", "deputy.officer@example.org"]
SUBJECT = "監査アラート：ログインの連続失敗 5 回 / Audit alert: 5 login failures in a row"
BODY = ("管理者各位\n\n利用者 'tanaka' のログインが 5 回続けて失敗しました。\n"
        "Dear administrators,\n\nfive login failures in a row for user 'tanaka'.\n"
        ".a line starting with a dot\n")
PASSWORD = "S3cret-relay_pass!word"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """The relay's self-signed certificate (also the CA kura trusts) and an unrelated one."""
    d = tmp_path_factory.mktemp("certs")

    def make(name, cn):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", f"/CN={cn}",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem")],
                       check=True, capture_output=True)
        return str(d / f"{name}.pem"), str(d / f"{name}.key")

    relay_cert, relay_key = make("relay", "relay.test")
    other_cert, _ = make("other", "someone-else.test")
    return {"cert": relay_cert, "key": relay_key, "other": other_cert}


class MailSend:
    """One spool folder and a mail-send process working on it."""

    def __init__(self, root):
        self.root = Path(root)
        self.spool = self.root / "spool"
        self.spool.mkdir(mode=0o700, exist_ok=True)
        self.conf = self.root / "mail.conf"
        self.proc = None
        self.runs = 0

    def configure(self, **mail):
        lines = ["[http]", "public_url = https://kura.example.org",
                 "[mail]", f"from = {FROM}", "timeout = 20", "retry_hours = 1"]
        lines += [f"{k} = {v}" for k, v in mail.items()]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, to=(), subject=SUBJECT, body=BODY, run=120):
        assert Path(MAIL_SEND).exists(), f"{MAIL_SEND} missing: build with -Dtest_hooks=true"
        self.runs += 1
        self.err_path = self.root / f"mail-send-{self.runs}.err"
        self.out_path = self.root / f"mail-send-{self.runs}.out"
        args = [MAIL_SEND, "--conf", str(self.conf), "--spool", str(self.spool)]
        for t in to:
            args += ["--to", t]
        if to:
            args += ["--subject", subject]
        if run:
            args += ["--run", str(run)]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=out, stderr=err)
        self.proc.stdin.write(body.encode())
        self.proc.stdin.close()
        return self

    def log(self):
        return self.err_path.read_text(errors="replace")

    def wait_log(self, needle, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"mail-send exited ({self.proc.returncode}) before "
                                     f"'{needle}':\n{self.log()}")
            time.sleep(0.02)  # polling a file; the event itself is the log line
        raise AssertionError(f"no '{needle}' within {timeout}s:\n{self.log()}")

    def kick_clock(self):
        """Moves the mailer's clock an hour forward (past any back-off) and wakes it."""
        self.wait_log("event=mail_started")  # signals are blocked from then on
        self.proc.send_signal(signal.SIGUSR1)

    def finish(self, timeout=120, sig=None):
        if sig is not None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        text = self.log()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, f"sanitizer report from mail-send:\n{text}"
        return code

    def out(self):
        return self.out_path.read_text()

    def queued_id(self):
        m = re.search(r"^queued ([0-9a-f]{32})$", self.out(), re.M)
        assert m, self.out()
        return m.group(1)

    def pending(self):
        d = self.spool / "mail"
        return sorted(p.name for p in d.iterdir() if re.fullmatch(r"[0-9a-f]{32}", p.name))

    def failed(self):
        d = self.spool / "mail" / "failed"
        return sorted(p.name for p in d.iterdir()) if d.exists() else []

    def envelope(self, path):
        """The envelope lines of a spool file: {key: [values]}."""
        head = path.read_bytes().split(b"\n\n", 1)[0].decode()
        lines = head.split("\n")
        assert lines[0] == "kura-mail 1"
        env = {}
        for line in lines[1:]:
            k, v = line.split(" ", 1)
            env.setdefault(k, []).append(v)
        return env


@pytest.fixture
def mail(tmp_path):
    return MailSend(tmp_path)


@pytest.fixture
def relay(tmp_path, certs):
    servers = []

    def make(port=None, **kw):
        s = SmtpServer(port or free_port(), tmp_path / f"relay-{len(servers)}", certs["cert"],
                       certs["key"], **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


def assert_message(rec, subject=SUBJECT, body=BODY, to=TO):
    """The received message is exactly what kura meant to send."""
    raw = rec["raw"]
    assert rec["mail_from"] == FROM
    assert rec["rcpt_tos"] == to
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF in the message"
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert len(line) <= 78, line
        assert all(32 <= c < 127 or c == 9 for c in line), line  # headers are pure ASCII
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == subject
    assert msg["From"] == FROM
    assert [a.addr_spec for a in msg["To"].addresses] == to
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] == "base64"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(r"<[0-9a-f]{32}@kura\.example\.org>", msg["Message-ID"])
    date = email.utils.parsedate_to_datetime(msg["Date"])
    assert date.utcoffset().total_seconds() == 0
    assert abs(time.time() - date.timestamp()) < 3600 * 3  # the test clock may have moved
    assert msg.get_content().replace("\r\n", "\n") == body


def starttls_conf(relay_server, certs, **extra):
    conf = dict(relay=f"127.0.0.1:{relay_server.port}", tls="starttls", ca_file=certs["cert"])
    conf.update(extra)
    return conf


def test_delivered_over_starttls(mail, relay, certs):
    server = relay().start()
    mail.configure(**starttls_conf(server, certs))
    assert mail.start(to=TO).finish() == 0, mail.log()
    recs = server.wait_records(1)
    assert len(recs) == 1
    rec = recs[0]
    assert rec["starttls"] is True
    assert rec["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert rec["auth_user"] is None
    assert rec["helo"] == "kura.example.org"  # public_url's host, not gethostname()
    assert_message(rec)
    assert mail.pending() == [] and mail.failed() == []
    assert "pending=0 failed=0" in mail.out()
    log = mail.log()
    assert f"event=mail_sent id={mail.queued_id()}" in log
    assert "attempt=1" in log
    assert "tanaka" not in log and "Audit alert" not in log  # neither body nor subject


def test_wrong_ca_stays_spooled_then_delivers(mail, relay, certs):
    server = relay().start()
    mail.configure(**starttls_conf(server, certs, ca_file=certs["other"]))
    mail.start(to=TO)
    mail.wait_log("event=mail_deferred")
    assert mail.finish(sig=signal.SIGTERM) == 0
    assert server.records() == []
    (mid,) = mail.pending()
    assert mid == mail.queued_id()
    env = mail.envelope(mail.spool / "mail" / mid)
    assert env["attempts"] == ["1"]
    assert re.search(r"certificate|verif", env["error"][0], re.I), env
    assert "failed" not in env

    # With the right CA the same spooled message goes out at its next attempt.
    mail.configure(**starttls_conf(server, certs))
    mail.start(run=120)
    mail.kick_clock()
    assert mail.finish() == 0, mail.log()
    (rec,) = server.wait_records(1)
    assert rec["starttls"] is True
    assert_message(rec)
    assert f"event=mail_sent id={mid}" in mail.log()
    assert "attempt=2" in mail.log()


def test_relay_down_then_up(mail, relay, certs):
    port = free_port()
    server = relay(port=port)  # not listening yet
    mail.configure(**starttls_conf(server, certs))
    mail.start(to=TO)
    mail.wait_log("event=mail_deferred")
    assert "retry_in_s=30" in mail.log()
    assert mail.pending() == [mail.queued_id()]
    server.start()
    mail.kick_clock()
    assert mail.finish() == 0, mail.log()
    (rec,) = server.wait_records(1)
    assert_message(rec)
    assert mail.pending() == []


def test_451_retried_then_delivered(mail, relay, certs):
    server = relay().start()
    server.fail_next(451, 1)
    mail.configure(**starttls_conf(server, certs))
    mail.start(to=TO)
    mail.wait_log("event=mail_deferred")
    assert "451 4.3.0 Temporary failure in the test relay" in mail.log()
    env = mail.envelope(mail.spool / "mail" / mail.queued_id())
    assert env["attempts"] == ["1"]
    assert "451 4.3.0" in env["error"][0]
    mail.kick_clock()
    assert mail.finish() == 0, mail.log()
    (rec,) = server.wait_records(1)
    assert_message(rec)
    assert server.refused == [(451, TO)]


def test_550_moves_to_failed(mail, relay, certs):
    server = relay().start()
    server.fail_next(550, 1)
    mail.configure(**starttls_conf(server, certs))
    assert mail.start(to=TO).finish() == 0, mail.log()
    mid = mail.queued_id()
    assert mail.pending() == []
    assert mail.failed() == [mid]
    path = mail.spool / "mail" / "failed" / mid
    assert path.stat().st_mode & 0o777 == 0o600
    env = mail.envelope(path)
    assert "550 5.7.1 Message refused by the test relay" in env["error"][0]
    assert env["attempts"] == ["1"]
    assert int(env["failed"][0]) > 0
    assert env["to"] == TO
    # The message itself is kept for the operator.
    assert b"\r\nSubject: =?UTF-8?B?" in path.read_bytes()
    assert server.records() == []
    assert server.refused == [(550, TO)]
    log = mail.log()
    assert re.search(rf"level=error event=mail_failed id={mid} .*550 5\.7\.1", log), log
    assert "pending=0 failed=1" in mail.out()


def write_password(root, mode, text=PASSWORD + "\n"):
    path = Path(root) / "smtp-password"
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def test_auth_with_password_file(mail, relay, certs, tmp_path):
    server = relay(auth={"kura-relay": PASSWORD}).start()
    pw = write_password(tmp_path, 0o600)
    mail.configure(**starttls_conf(server, certs, username="kura-relay", password_file=pw))
    assert mail.start(to=TO).finish() == 0, mail.log()
    (rec,) = server.wait_records(1)
    assert rec["auth_user"] == "kura-relay"
    assert rec["starttls"] is True
    assert_message(rec)
    assert PASSWORD not in mail.log()


def test_auth_wrong_password_defers(mail, relay, certs, tmp_path):
    server = relay(auth={"kura-relay": PASSWORD}).start()
    pw = write_password(tmp_path, 0o600, "not-the-password\n")
    mail.configure(**starttls_conf(server, certs, username="kura-relay", password_file=pw))
    mail.start(to=TO)
    mail.wait_log("event=mail_deferred")
    assert mail.finish(sig=signal.SIGTERM) == 0
    assert server.records() == []
    assert server.auth_failures >= 1
    assert mail.pending() == [mail.queued_id()]  # kept until the operator fixes the password
    assert "not-the-password" not in mail.log()


def test_password_file_readable_by_others_refused(mail, relay, certs, tmp_path):
    server = relay(auth={"kura-relay": PASSWORD}).start()
    pw = write_password(tmp_path, 0o644)
    mail.configure(**starttls_conf(server, certs, username="kura-relay", password_file=pw))
    assert mail.start(to=TO).finish() == 1
    assert "mode 0644 allows group or others; chmod 600" in mail.log()
    assert PASSWORD not in mail.log()
    assert mail.pending() == [mail.queued_id()]  # queued before the refusal; nothing sent
    assert server.records() == []


def test_implicit_tls(mail, relay, certs):
    server = relay(implicit=True).start()
    mail.configure(relay=f"127.0.0.1:{server.port}", tls="implicit", ca_file=certs["cert"])
    assert mail.start(to=TO[:1]).finish() == 0, mail.log()
    (rec,) = server.wait_records(1)
    assert rec["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert rec["starttls"] is False
    assert_message(rec, to=TO[:1])


def test_plaintext_only_on_loopback(mail, relay, certs):
    mail.configure(relay="192.0.2.1:25", tls="none")
    assert mail.start(to=TO).finish() == 1
    assert "tls = none: refused for relay '192.0.2.1:25'" in mail.log()

    server = relay(require_starttls=False).start()
    mail.configure(relay=f"localhost:{server.port}", tls="none")
    assert mail.start(run=120).finish() == 0, mail.log()
    (rec,) = server.wait_records(1)
    assert rec["starttls"] is False and rec["tls_version"] is None
    assert_message(rec)
    assert "level=warning event=mail_plaintext" in mail.log()
