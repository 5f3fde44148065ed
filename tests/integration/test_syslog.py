"""The syslog witness end to end: a real rsyslog (Debian's rsyslog + rsyslog-gnutls) on loopback
with TLS receives every audit record and checkpoint that kura's forwarder sends.

The forwarder is a library thread that `kura serve` will start; until it does, the tests drive
it through `syslog-forward` (tests/syslog-forward.c, built next to `kura` in test-hooks builds),
which forwards a data folder's log while `kura serve` may be writing it. rsyslog runs as its own
process with its own configuration, pid file and work directory under the test's temp folder;
it writes what it received three ways: JSON lines with every RFC 5424 field (for exact checks),
the RFC 5424 archive format and the traditional file format (both read back by
`kura audit verify` through [audit] witness_read). Nothing sleeps to synchronise: every wait
polls a file, a log line or a socket table until a deadline.
"""
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import KURA_BIN, SANITIZER_MARKERS, free_port, run_kura
from helpers import wait_until
from test_audit import raw_records

SYSLOG_FORWARD = os.environ.get("KURA_SYSLOG_FORWARD") or str(
    Path(KURA_BIN).parent / "syslog-forward")
RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
BOM = "\ufeff"
SD_RECORD = re.compile(r'^\[kura@32473 index="(\d+)" origin="([^"\\\]]+)"\]$')
SD_CHECKPOINT = re.compile(r'^\[kura@32473 size="(\d+)"\]$')


# ---- certificates ----------------------------------------------------------------------------

def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(d, name):
    key, crt = d / f"{name}.key", d / f"{name}.crt"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign")
    return key, crt


def make_cert(d, name, ca, cn, san, usage):
    key, csr, crt, ext = (d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt",
                          d / f"{name}.ext")
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage={usage}\n" if san else
                   f"extendedKeyUsage={usage}\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={cn}")
    openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    key.chmod(0o600)
    return key, crt


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = make_ca(d, "collector-ca")
    other = make_ca(d, "other-ca")
    # The collector's name is syslog.kura.test; tests connect to 127.0.0.1, its IP address SAN.
    server = make_cert(d, "collector", ca, "syslog.kura.test",
                       "DNS:syslog.kura.test,IP:127.0.0.1", "serverAuth")
    client = make_cert(d, "client", ca, "kura-client", "DNS:kura.client.test", "clientAuth")
    return {"ca": ca[1], "other_ca": other[1], "server": server, "client": client}


# ---- rsyslog -----------------------------------------------------------------------------------

JSONL_TEMPLATE = """template(name="kura_jsonl" type="list") {
  constant(value="{\\"pri\\":") property(name="pri")
  constant(value=",\\"version\\":\\"") property(name="protocol-version" format="json")
  constant(value="\\",\\"timestamp\\":\\"")
  property(name="timestamp" dateFormat="rfc3339" format="json")
  constant(value="\\",\\"hostname\\":\\"") property(name="hostname" format="json")
  constant(value="\\",\\"app\\":\\"") property(name="app-name" format="json")
  constant(value="\\",\\"procid\\":\\"") property(name="procid" format="json")
  constant(value="\\",\\"msgid\\":\\"") property(name="msgid" format="json")
  constant(value="\\",\\"sd\\":\\"") property(name="structured-data" format="json")
  constant(value="\\",\\"msg\\":\\"") property(name="msg" format="json")
  constant(value="\\"}\\n")
}
"""


def listening(port):
    """True when something listens on 127.0.0.1:port (read from /proc, no connection made)."""
    want = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if f[1] == want and f[3] == "0A":
            return True
    return False


class Rsyslog:
    """An rsyslogd of the test's own: TLS input on a loopback port, three output files."""

    def __init__(self, root, pki, client_auth=False):
        self.dir = Path(root) / "rsyslog"
        self.dir.mkdir(exist_ok=True)
        (self.dir / "work").mkdir(exist_ok=True)
        self.port = free_port()
        self.jsonl = self.dir / "messages.jsonl"
        self.archive = self.dir / "archive-rfc5424.log"
        self.traditional = self.dir / "archive.log"
        self.proc = None
        self.runs = 0
        auth = "x509/certvalid" if client_auth else "anon"
        key, crt = pki["server"]
        (self.dir / "rsyslog.conf").write_text(f"""
global(workDirectory="{self.dir / 'work'}" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="{pki['ca']}"
       defaultNetstreamDriverCertFile="{crt}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="{auth}")
{JSONL_TEMPLATE}
ruleset(name="kura") {{
  action(type="omfile" file="{self.jsonl}" template="kura_jsonl")
  action(type="omfile" file="{self.archive}" template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfile" file="{self.traditional}" template="RSYSLOG_TraditionalFileFormat")
}}
input(type="imtcp" address="127.0.0.1" port="{self.port}" ruleset="kura")
""")

    def start(self):
        assert Path(RSYSLOGD).exists(), "rsyslogd missing: run scripts/deps.sh test"
        self.runs += 1
        log = open(self.dir / f"rsyslogd-{self.runs}.log", "wb")
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.dir / "rsyslog.conf"), "-i", str(self.dir / "pid")],
            stdout=log, stderr=log)
        log.close()
        wait_until(lambda: listening(self.port) or self.proc.poll() is not None, 30,
                   "rsyslogd listening")
        assert self.proc.poll() is None, self.log()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        wait_until(lambda: not listening(self.port), 30, "rsyslogd's port closed")

    def log(self):
        logs = sorted(self.dir.glob("rsyslogd-*.log"))
        return "".join(p.read_text(errors="replace") for p in logs)

    def messages(self):
        if not self.jsonl.exists():
            return []
        return [json.loads(line) for line in self.jsonl.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def rsyslog(tmp_path, pki):
    r = Rsyslog(tmp_path, pki)
    yield r
    r.stop()


# ---- the forwarder -----------------------------------------------------------------------------

class Forwarder:
    """syslog-forward runs over one data folder with one [syslog] configuration."""

    def __init__(self, root, data, settings):
        self.root = Path(root)
        self.data = Path(data)
        self.conf = self.root / "forward.conf"
        self.conf.write_text("[syslog]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        self.runs = 0
        self.proc = None

    def start(self, *args):
        assert Path(SYSLOG_FORWARD).exists(), \
            f"{SYSLOG_FORWARD} missing: build with -Dtest_hooks=true"
        self.runs += 1
        self.err_path = self.root / f"forward-{self.runs}.err"
        self.out_path = self.root / f"forward-{self.runs}.out"
        with open(self.err_path, "wb") as err, open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(
                [SYSLOG_FORWARD, "--conf", str(self.conf), "--data", str(self.data), *args],
                stdout=out, stderr=err)
        return self

    def err(self):
        return self.err_path.read_text(errors="replace")

    def count(self, event):
        return self.err().count(f"event={event} ")

    def finish(self, timeout=120, sig=None):
        """Waits for the process (after sig, if given); checks for sanitizer reports."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        if sig != signal.SIGKILL:
            for marker in SANITIZER_MARKERS:
                assert marker not in self.err(), f"sanitizer report:\n{self.err()}"
        return code

    def run(self, *args, timeout=120):
        """Runs until caught up (exit 0)."""
        self.start("--run", str(timeout), *args)
        code = self.finish(timeout + 30)
        assert code == 0, f"syslog-forward exited {code}:\n{self.err()}"
        return code


def cursor(data):
    text = (Path(data) / "spool" / "syslog.cursor").read_text()
    m = re.fullmatch(r"kura-syslog-cursor 1\nconfirmed (\d+) (\d+)\nsent (\d+)\n", text)
    assert m, f"bad cursor file: {text!r}"
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


# ---- the log as kura wrote it ------------------------------------------------------------------

def history_notes(data):
    """The signed notes of audit/checkpoints, in order, as text."""
    text = (Path(data) / "audit" / "checkpoints").read_text(encoding="utf-8")
    notes = re.findall(r"(?m)^(kura\.[^\n]+\n\d+\n[^\n]+\n\n(?:\u2014 [^\n]+\n)+)", text)
    assert sum(map(len, notes)) == len(text), "audit/checkpoints is not a list of notes"
    return notes


def make_records(server, n, tag):
    s = server.session()
    for i in range(n):
        s.headers["X-Request-Id"] = f"{tag}-{i}"
        assert s.get(server.url + f"/syslog-{tag}-{i}").status_code == 404  # audited


def check_stream(msgs, data, forwarder_pids=None):
    """Every record and checkpoint of the log arrived, each in order: a record never before all
    records below it, a checkpoint never before every record it covers; duplicates are exact
    copies with the same index. Returns the number of duplicates."""
    records = raw_records(data)
    notes = history_notes(data)
    origin = notes[0].split("\n", 1)[0]
    seen_records, seen_notes = {}, {}
    top = -1  # highest record index received so far
    duplicates = 0
    for m in msgs:
        assert m["version"] == "1" and m["app"] == "kura", m
        assert m["hostname"] and m["msg"].startswith(BOM), m
        if forwarder_pids is not None:
            assert int(m["procid"]) in forwarder_pids, m
        body = m["msg"][len(BOM):]
        if m["msgid"] == "AUDIT":
            sd = SD_RECORD.match(m["sd"])
            assert sd, m["sd"]
            i = int(sd.group(1))
            assert sd.group(2) == origin
            assert m["pri"] == 4 * 8 + 6, m  # auth.info
            assert i <= top + 1, f"record {i} arrived before record {top + 1}"
            assert body == records[i].decode("utf-8"), f"record {i} differs"
            assert m["timestamp"] == json.loads(body)["time"], m
            if i in seen_records:
                duplicates += 1
            seen_records[i] = True
            top = max(top, i)
        else:
            assert m["msgid"] == "CHECKPOINT", m
            assert m["pri"] == 4 * 8 + 5, m  # auth.notice
            sd = SD_CHECKPOINT.match(m["sd"])
            assert sd, m["sd"]
            size = int(sd.group(1))
            assert size <= top + 1, f"checkpoint {size} arrived before record {size - 1}"
            note = body.replace("#012", "\n") + "\n"  # rsyslog drops the final newline
            assert note in notes, f"checkpoint not in audit/checkpoints: {note!r}"
            assert note.split("\n")[1] == str(size)
            if note in seen_notes:
                duplicates += 1
            seen_notes.setdefault(note, len(seen_notes))
    assert sorted(seen_records) == list(range(len(records))), \
        f"records missing: {sorted(set(range(len(records))) - set(seen_records))}"
    assert set(seen_notes) == set(notes), f"{len(set(notes) - set(seen_notes))} checkpoints missing"
    # Checkpoints first arrived in the order they were published.
    assert sorted(seen_notes, key=seen_notes.get) == notes
    return duplicates


def verify_with_witness(data, *files):
    """`kura audit verify --json` reading the given files as witnesses."""
    conf = Path(data) / "kura.conf"
    text = conf.read_text()
    text = re.sub(r"(?m)^witness_read =.*$", "witness_read = " + ",".join(map(str, files)), text)
    conf.write_text(text)
    proc = run_kura("audit", "verify", "--data", str(data), "--json")
    return proc.returncode, json.loads(proc.stdout.splitlines()[-1])


def settings(rsyslog, pki, **extra):
    s = {"target": f"127.0.0.1:{rsyslog.port}", "ca_file": str(pki["ca"])}
    s.update(extra)
    return s


# ---- tests -------------------------------------------------------------------------------------

def test_every_record_and_checkpoint_arrives_in_order_and_witnesses(instance, rsyslog, pki):
    instance.init()
    server = instance.serve()
    make_records(server, 40, "a")
    assert server.stop() == 0
    rsyslog.start()
    fwd = Forwarder(instance.root, instance.data, settings(rsyslog, pki))
    fwd.run()
    msgs = wait_until(lambda: (m := rsyslog.messages()) and
                      len(m) >= len(raw_records(instance.data)) and m, 30, "messages stored")
    assert check_stream(msgs, instance.data, {fwd.proc.pid}) == 0
    n = len(raw_records(instance.data))
    notes = history_notes(instance.data)
    assert len(msgs) == n + len(notes)
    # Exactly one record message, byte for byte (rsyslog's fields of it).
    first = msgs[0]
    assert first["msgid"] == "AUDIT" and first["pri"] == 38
    assert first["sd"].startswith('[kura@32473 index="0" origin="kura.localhost/audit/')
    # The cursor: everything confirmed, and where audit/checkpoints ends.
    size = (instance.data / "audit" / "checkpoints").stat().st_size
    assert cursor(instance.data) == (n, size, n)
    assert "event=syslog_confirmed" in fwd.err()

    # rsyslog's files are real witnesses: verify finds every checkpoint in each of them.
    for archive in (rsyslog.archive, rsyslog.traditional):
        code, rep = verify_with_witness(instance.data, archive)
        assert code == 0 and rep["ok"], rep
        assert rep["witnessed_checked"] == len(notes) > 0, rep

    # verify is audited too: a second run sends just what it added, nothing twice.
    first_run = fwd.proc.pid
    fwd.run()
    n = len(raw_records(instance.data))
    notes = history_notes(instance.data)
    msgs = wait_until(lambda: (m := rsyslog.messages()) and len(m) >= n + len(notes) and m, 30,
                      "the verify records stored")
    assert check_stream(msgs, instance.data, {first_run, fwd.proc.pid}) == 0
    assert len(msgs) == n + len(notes)
    # And with nothing new, a run sends nothing.
    fwd.run()
    assert len(rsyslog.messages()) == len(msgs)


def test_collector_down_then_up(instance, rsyslog, pki):
    instance.init()
    server = instance.serve()
    fwd = Forwarder(instance.root, instance.data, settings(rsyslog, pki)).start("--follow",
                                                                              "--run", "600")
    make_records(server, 10, "down")
    # The collector is not there: the forwarder keeps trying, with back-off.
    wait_until(lambda: fwd.count("syslog_connect_failed") >= 3, 60, "failed connection attempts")
    assert "connect: Connection refused" in fwd.err()
    rsyslog.start()
    make_records(server, 10, "up")
    wait_until(lambda: len({m["sd"] for m in rsyslog.messages() if m["msgid"] == "AUDIT"})
               >= len(raw_records(instance.data)), 60, "records after the collector came up")
    # Down again in the middle of a stream, then up again.
    rsyslog.stop()
    make_records(server, 15, "again")
    def failures():
        return sum(fwd.count(e) for e in
                   ("syslog_connect_failed", "syslog_send_failed", "syslog_unconfirmed"))
    before = failures()
    wait_until(lambda: failures() > before, 60, "a failure while the collector is down")
    rsyslog.start()
    assert server.stop() == 0  # the final checkpoint covers every record
    n = len(raw_records(instance.data))
    final = history_notes(instance.data)[-1]
    wait_until(lambda: any(m["msgid"] == "CHECKPOINT" and
                           m["msg"][1:].replace("#012", "\n") + "\n" == final
                           for m in rsyslog.messages()), 90, "the final checkpoint")
    assert fwd.finish(sig=signal.SIGTERM) == 0
    msgs = rsyslog.messages()
    dups = check_stream(msgs, instance.data, {fwd.proc.pid})
    # Every message at least once; duplicates, if any, were recognised by index above.
    assert len(msgs) == n + len(history_notes(instance.data)) + dups
    assert "event=syslog_reconnected" in fwd.err()
    confirmed, _, sent = cursor(instance.data)
    assert confirmed == sent == n


def test_wrong_ca_or_name_sends_nothing_and_retries(instance, rsyslog, pki):
    instance.init()
    rsyslog.start()
    # A collector certificate from a CA kura was not told to trust.
    fwd = Forwarder(instance.root, instance.data,
                    settings(rsyslog, pki, ca_file=str(pki["other_ca"])))
    fwd.start("--follow", "--run", "600")
    wait_until(lambda: fwd.count("syslog_connect_failed") >= 2, 60, "refused handshakes")
    assert fwd.finish(sig=signal.SIGTERM) == 0
    assert "certificate of the collector refused" in fwd.err()
    # The right CA but another name: the certificate names syslog.kura.test and 127.0.0.1 only.
    wrong_name = Forwarder(instance.root, instance.data,
                           settings(rsyslog, pki, target=f"localhost:{rsyslog.port}"))
    wrong_name.start("--follow", "--run", "600")
    wait_until(lambda: wrong_name.count("syslog_connect_failed") >= 2, 60, "refused names")
    assert wrong_name.finish(sig=signal.SIGTERM) == 0
    assert "certificate of the collector refused" in wrong_name.err()
    assert rsyslog.messages() == []
    assert not (instance.data / "spool" / "syslog.cursor").exists() or \
        cursor(instance.data)[0] == 0
    # With the right CA, everything arrives.
    Forwarder(instance.root, instance.data, settings(rsyslog, pki)).run()
    wait_until(lambda: len(rsyslog.messages()) >= len(raw_records(instance.data)), 30,
               "messages stored")
    assert check_stream(rsyslog.messages(), instance.data) == 0


def test_restart_resumes_from_cursor(instance, rsyslog, pki):
    instance.init()
    rsyslog.start()
    fwd = Forwarder(instance.root, instance.data, settings(rsyslog, pki))
    server = instance.serve()
    make_records(server, 12, "one")
    assert server.stop() == 0
    fwd.run()
    first_run = fwd.proc.pid
    n1 = len(raw_records(instance.data))
    assert cursor(instance.data)[0] == n1
    wait_until(lambda: len(rsyslog.messages()) >= n1, 30, "first run stored")

    # More records, then a new forwarder: it starts where the cursor says, with no gap and,
    # since the first run confirmed everything, no duplicate.
    server = instance.serve()
    make_records(server, 12, "two")
    assert server.stop() == 0
    fwd.run()
    second_run = fwd.proc.pid
    assert f"resume_from={n1}" in fwd.err()
    n2 = len(raw_records(instance.data))
    wait_until(lambda: sum(m["msgid"] == "AUDIT" for m in rsyslog.messages()) >= n2, 30,
               "second run stored")
    assert check_stream(rsyslog.messages(), instance.data, {first_run, second_run}) == 0
    assert cursor(instance.data)[0] == n2

    # kill -9 in the middle of sending: the next run resends from the last confirmed point, so
    # nothing is lost; what was sent but not confirmed may arrive twice, recognisably.
    server = instance.serve()
    fwd.start("--follow", "--run", "600")
    killed = fwd.proc.pid
    make_records(server, 20, "three")
    wait_until(lambda: sum(m["msgid"] == "AUDIT" for m in rsyslog.messages()) > n2, 60,
               "the third batch starting to arrive")
    fwd.finish(sig=signal.SIGKILL)
    assert server.stop() == 0
    fwd.run()
    n3 = len(raw_records(instance.data))
    wait_until(lambda: {m["sd"] for m in rsyslog.messages() if m["msgid"] == "AUDIT"} and
               max(int(SD_RECORD.match(m["sd"]).group(1)) for m in rsyslog.messages()
                   if m["msgid"] == "AUDIT") == n3 - 1, 30, "third run stored")
    check_stream(rsyslog.messages(), instance.data, {first_run, second_run, killed, fwd.proc.pid})
    confirmed, _, sent = cursor(instance.data)
    assert confirmed == sent == n3


def test_mutual_tls(instance, tmp_path, pki):
    rsyslog = Rsyslog(tmp_path, pki, client_auth=True)
    try:
        rsyslog.start()
        instance.init()
        # Without a client certificate the collector refuses the connection: nothing is confirmed.
        fwd = Forwarder(instance.root, instance.data, settings(rsyslog, pki))
        fwd.start("--follow", "--run", "600")
        wait_until(lambda: fwd.count("syslog_unconfirmed") + fwd.count("syslog_send_failed") +
                   fwd.count("syslog_connect_failed") >= 2, 60, "refusals without a client cert")
        assert fwd.finish(sig=signal.SIGTERM) == 0
        assert rsyslog.messages() == []
        # With one, everything arrives.
        key, crt = pki["client"]
        Forwarder(instance.root, instance.data,
                  settings(rsyslog, pki, cert_file=str(crt), key_file=str(key))).run()
        wait_until(lambda: len(rsyslog.messages()) >= len(raw_records(instance.data)), 30,
                   "messages stored")
        assert check_stream(rsyslog.messages(), instance.data) == 0
    finally:
        rsyslog.stop()


def test_start_refusals(instance, tmp_path, pki):
    instance.init()
    port = free_port()
    key, crt = pki["client"]
    loose = tmp_path / "loose.key"
    shutil.copy(key, loose)
    loose.chmod(0o644)
    cases = [
        ({"target": f"127.0.0.1:{port}", "ca_file": str(tmp_path / "missing.pem")}, "ca_file"),
        ({"target": f"127.0.0.1:{port}", "ca_file": str(pki["ca"]), "cert_file": str(crt)},
         "set both or neither"),
        ({"target": f"127.0.0.1:{port}", "ca_file": str(pki["ca"]), "cert_file": str(crt),
          "key_file": str(loose)}, "no group or other permissions"),
    ]
    for conf, want in cases:
        fwd = Forwarder(tmp_path, instance.data, conf)
        fwd.start("--run", "10")
        assert fwd.finish() == 1
        assert want in fwd.err(), fwd.err()
    # A damaged cursor is refused, not guessed at.
    (instance.data / "spool").mkdir(exist_ok=True)
    (instance.data / "spool" / "syslog.cursor").write_text("kura-syslog-cursor 1\nconfirmed x\n")
    fwd = Forwarder(tmp_path, instance.data, {"target": f"127.0.0.1:{port}",
                                              "ca_file": str(pki["ca"])})
    fwd.start("--run", "10")
    assert fwd.finish() == 1
    assert "syslog.cursor is damaged" in fwd.err()
    # Config validation: the protocol is tls only, the facility auth or local0-7.
    for key_, value in (("protocol", "relp"), ("facility", "kern"), ("target", "nohostport:")):
        bad = Forwarder(tmp_path, instance.data, {key_: value})
        bad.start("--run", "10")
        assert bad.finish() == 1
        assert f"[syslog] {key_}" in bad.err(), bad.err()


# ---- the server's own forwarder ----------------------------------------------------------------

def test_server_forwards_its_log(instance, rsyslog, pki):
    """kura serve with [syslog] set forwards every record as it is written."""
    instance.init()
    for k, v in settings(rsyslog, pki).items():
        instance.set("syslog", k, v)
    rsyslog.start()
    server = instance.serve()
    make_records(server, 30, "srv")
    wait_until(lambda: len(rsyslog.messages()) >= 30, 60, "the server's records forwarded")
    assert server.stop() == 0
    # Every record went out, the stop record included (the forwarder stops after it); the
    # checkpoint published as the log closes goes with the next start.
    msgs = rsyslog.messages()
    n = len(raw_records(instance.data))
    indices = {int(SD_RECORD.match(m["sd"]).group(1)) for m in msgs if m["msgid"] == "AUDIT"}
    assert indices == set(range(n)), f"missing: {sorted(set(range(n)) - indices)}"


def test_client_text_cannot_forge_a_witness_note(instance, rsyslog, pki):
    """A client writes a note-shaped user agent (escaped newlines, a forged signature) into the
    log; the syslog witness carries it; verify must not take it for a re-signed checkpoint."""
    instance.init()
    for k, v in settings(rsyslog, pki).items():
        instance.set("syslog", k, v)
    rsyslog.start()
    server = instance.serve()
    make_records(server, 3, "pre")
    real = (instance.data / "audit" / "checkpoint").read_text().splitlines()
    origin, size, root = real[0], real[1], real[2]
    forged_sig = real[4][:-8] + "AAAAAAA="  # same key name and id, wrong signature
    s = server.session()
    for sep in ("#012", "\\n"):
        fake = sep.join([origin, size, root, "", forged_sig, ""])
        s.headers["User-Agent"] = fake.encode()  # UTF-8 (the em dash)
        assert s.get(server.url + "/forged").status_code == 404
    wait_until(lambda: any("forged" in json.dumps(m) for m in rsyslog.messages()), 60,
               "the forged records forwarded")
    assert server.stop() == 0
    wait_until(lambda: len(rsyslog.messages()) >= len(raw_records(instance.data)), 60,
               "everything forwarded")
    for archive in (rsyslog.archive, rsyslog.traditional):
        assert "AAAAAAA=" in archive.read_text(errors="replace")
        code, rep = verify_with_witness(instance.data, archive)
        assert code == 0 and rep["ok"], rep
        assert rep["witnessed_checked"] >= 1, rep


def test_stalled_forwarding_raises_an_alert(instance, pki):
    """A collector that is down for [syslog] alert_after raises syslog_failing."""
    instance.init()
    instance.set("syslog", "target", f"127.0.0.1:{free_port()}")  # nobody listens
    instance.set("syslog", "ca_file", str(pki["ca"]))
    instance.set("syslog", "alert_after", "10")
    server = instance.serve()
    make_records(server, 3, "down")

    def raised():
        proc = run_kura("alerts", "list", "--data", str(instance.data), "--json")
        return "syslog_failing" in proc.stdout

    wait_until(raised, 60, "the syslog_failing alert")
    assert server.stop() == 0
