"""The audit log end to end: every instrumented event with its fields, durability across kill -9,
fail-closed, and `kura audit verify` catching each kind of tampering on a copy of a real log.

Records are read straight from the tlog-tiles files (docs/audit-format.md), independently of
kura's own reader.
"""
import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import KURA_BIN, run_kura
from helpers import request_bytes, send_raw, status, wait_until


# ---- reading the log the way an outside tool would ------------------------------------------

def tile_path(level, n, width=0):
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    parts = [("x%03d" % g) for g in reversed(groups[1:])] + ["%03d" % groups[0]]
    p = f"tile/{level}/" + "/".join(parts)
    return p + (f".p/{width}" if width else "")


def bundle_records(data):
    out, off = [], 0
    while off + 2 <= len(data):
        n = struct.unpack(">H", data[off:off + 2])[0]
        if n == 0 or off + 2 + n > len(data):
            break
        out.append(data[off + 2:off + 2 + n])
        off += 2 + n
    return out


def raw_records(data_dir):
    audit = Path(data_dir) / "audit"
    out, n = [], 0
    while (audit / tile_path("entries", n)).exists():
        out += bundle_records((audit / tile_path("entries", n)).read_bytes())
        n += 1
    if (audit / "current").exists():
        out += bundle_records((audit / "current").read_bytes())
    return out


def records(data_dir):
    return [json.loads(r) for r in raw_records(data_dir)]


def verify(data_dir, *extra):
    proc = run_kura("audit", "verify", "--data", str(data_dir), "--json", *extra)
    return proc.returncode, json.loads(proc.stdout.splitlines()[-1])


# ---- events ---------------------------------------------------------------------------------------

def test_instrumented_events_and_fields(instance):
    instance.init()
    server = instance.serve()
    s = server.session()
    s.headers["User-Agent"] = 'tester "quoted"\t/1.0'
    s.headers["X-Request-Id"] = "audit-req-1"
    assert s.get(server.url + "/nope").status_code == 404
    s.headers["X-Request-Id"] = "audit-req-2"
    assert s.get(server.url + "/_test/whoami").status_code == 200
    assert s.get(server.url + "/healthz").status_code == 200  # counted, never audited
    resp = send_raw(server.port, request_bytes(server.port, "GET", "/a/%2e%2e/etc"))
    assert resp.status == 400
    assert server.stop() == 0
    recs = records(instance.data)
    me = run_kura("--version").stdout  # noqa: F841 (the binary runs)
    # Record 0: who created the installation.
    assert recs[0]["action"] == "cli.init" and recs[0]["actor"].startswith("cli:")
    assert recs[0]["detail"]["admin"] == "admin"
    start = next(r for r in recs if r["action"] == "server.start")
    assert start["actor"] == "system" and start["detail"]["unclean_stop"] is False
    assert any(r["action"] == "audit.heartbeat" for r in recs)
    cfg = next(r for r in recs if r["action"] == "config.change")
    assert cfg["detail"]["first"] is True
    assert "http.public_url" in cfg["detail"]["changed"]
    by_id = {r["request_id"]: r for r in recs if r["request_id"]}
    nope = by_id["audit-req-1"]
    assert (nope["action"], nope["object"], nope["result"], nope["reason"]) == \
        ("http.request", "/nope", "error", "not_found")
    assert nope["user_agent"] == 'tester "quoted"\t/1.0'
    assert nope["source_ip"] == "127.0.0.1" and nope["actor"] == "anonymous"
    assert nope["detail"] == {"method": "GET", "status": 404}
    who = by_id["audit-req-2"]
    assert (who["action"], who["result"], who["reason"]) == ("test.whoami", "ok", None)
    assert who["bytes"] > 0
    bad = next(r for r in recs if r["object"] == "/a/%2e%2e/etc")
    assert (bad["result"], bad["reason"]) == ("error", "bad_path")
    assert not any(r["object"] == "/healthz" for r in recs)
    assert recs[-1]["action"] == "server.stop"
    # Indices, links and times as the format says.
    for i, r in enumerate(recs):
        assert r["index"] == i
        assert list(r) == ["index", "time", "prev", "actor", "roles", "elevated", "session",
                           "source_ip", "user_agent", "request_id", "action", "object", "bytes",
                           "result", "reason", "detail"]
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep
    # verify itself was recorded (no server: the CLI wrote it under the lock).
    assert records(instance.data)[-1]["action"] == "cli.audit.verify"


def test_cli_action_through_running_server(instance):
    """While a server runs, the CLI asks it to record; the actor comes from the peer uid."""
    instance.init()
    server = instance.serve()
    code, rep = verify(instance.data)
    assert code == 0
    last = None
    wait_until(lambda: any(r["action"] == "cli.audit.verify" for r in records(instance.data)),
               10, "the verify action to be recorded by the server")
    last = [r for r in records(instance.data) if r["action"] == "cli.audit.verify"][-1]
    import pwd
    assert last["actor"] == "cli:" + pwd.getpwuid(os.getuid()).pw_name
    assert server.stop() == 0


def test_config_change_between_starts(instance):
    instance.init()
    assert instance.serve().stop() == 0
    instance.set("http", "threads", "3")
    instance.set("http", "idle_timeout", "90")
    assert instance.serve().stop() == 0
    changes = [r for r in records(instance.data) if r["action"] == "config.change"]
    assert len(changes) == 2
    changed = changes[1]["detail"]["changed"]
    assert changed["http.threads"] == {"before": None, "after": "3"}
    assert changed["http.idle_timeout"] == {"before": None, "after": "90"}
    instance.set("http", "threads", "0")  # back to the default
    assert instance.serve().stop() == 0
    changes = [r for r in records(instance.data) if r["action"] == "config.change"]
    assert changes[-1]["detail"]["changed"]["http.threads"] == {"before": "3",
                                                                  "after": "(default)"}
    # A start without changes adds no config.change.
    assert instance.serve().stop() == 0
    assert len([r for r in records(instance.data) if r["action"] == "config.change"]) == 3


def test_unclean_stop_is_recorded(instance):
    instance.init()
    s = instance.serve()
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    assert instance.serve().stop() == 0
    starts = [r for r in records(instance.data) if r["action"] == "server.start"]
    assert [st["detail"]["unclean_stop"] for st in starts] == [False, True]
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep


def test_kill_9_during_a_write_burst_loses_no_acknowledged_event(instance):
    instance.init()
    server = instance.serve()
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def client(k):
        i = 0
        while not stop.is_set():
            rid = f"burst-{k}-{i}"
            i += 1
            req = request_bytes(server.port, "GET", "/_test/whoami",
                                f"X-Request-Id: {rid}\r\n".encode())
            try:
                resp = send_raw(server.port, req, timeout=10)
            except OSError:
                return
            if resp.status == 200:
                with lock:
                    acked.append(rid)

    with ThreadPoolExecutor(max_workers=8) as pool:
        for k in range(8):
            pool.submit(client, k)
        wait_until(lambda: len(acked) >= 200, 60, "200 acknowledged requests")
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        stop.set()
    assert instance.serve().stop() == 0
    ids = {r["request_id"] for r in records(instance.data)}
    missing = [rid for rid in acked if rid not in ids]
    assert not missing, f"{len(missing)} acknowledged requests have no audit record"
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep


def test_fail_closed_and_recovery(instance):
    instance.init()
    server = instance.serve()
    s = server.session()
    run_kura("debug", "audit-fail", "--data", str(instance.data), "on", check=True)
    r = s.get(server.url + "/_test/whoami")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "audit_unavailable"
    assert s.get(server.url + "/healthz").status_code == 200  # health is not audited
    assert "event=audit_write_failed" in server.log()
    run_kura("debug", "audit-fail", "--data", str(instance.data), "off", check=True)
    # The writer retries by itself after its back-off; shift the clock past it.
    run_kura("debug", "clock-shift", "--data", str(instance.data), "3000", check=True)
    wait_until(lambda: s.get(server.url + "/_test/whoami").status_code == 200, 20,
               "audited requests to be answered again")
    assert server.stop() == 0
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep
    # Nothing half-written: every record parses and the indices are contiguous.
    recs = records(instance.data)
    assert [r["index"] for r in recs] == list(range(len(recs)))


def test_heartbeat_gap_while_running_is_reported(instance):
    instance.init()
    server = instance.serve()
    beats = lambda: len([r for r in records(instance.data)  # noqa: E731
                         if r["action"] == "audit.heartbeat"])
    wait_until(lambda: beats() >= 1, 10, "the first heartbeat")
    # The writer is frozen for 11 minutes, as far as the log can tell.
    run_kura("debug", "clock-shift", "--data", str(instance.data), str(11 * 60 * 1000),
             check=True)
    wait_until(lambda: beats() >= 2, 10, "the next heartbeat")
    assert server.stop() == 0
    code, rep = verify(instance.data)
    assert code == 1 and not rep["ok"]
    assert "no heartbeat for 66" in rep["reason"], rep


# ---- proofs --------------------------------------------------------------------------------------

def test_prove_and_consistency(instance, tmp_path):
    instance.init()
    server = instance.serve()
    old = (instance.data / "audit" / "checkpoint").read_text()
    (tmp_path / "old").write_text(old)
    for _ in range(300):
        send_raw(server.port, request_bytes(server.port, "GET", "/_test/whoami"))
    assert server.stop() == 0
    out = tmp_path / "evidence.json"
    run_kura("audit", "prove", "--data", str(instance.data), "--index", "5", "--out", str(out),
             check=True)
    ev = json.loads(out.read_text())
    assert ev["index"] == 5 and ev["tree_size"] > 300
    assert json.loads(ev["record"])["index"] == 5
    origin, size = ev["checkpoint"].split("\n")[:2]
    assert origin == ev["origin"] and int(size) == ev["tree_size"]
    assert ev["vkey"] == run_kura("audit", "key", "--data", str(instance.data)).stdout.strip()
    assert all(len(base64.b64decode(h)) == 32 for h in ev["inclusion_proof"])
    proof = run_kura("audit", "consistency", "--data", str(instance.data), "--old",
                     str(tmp_path / "old"), check=True)
    cons = json.loads(proof.stdout)
    assert cons["old_size"] < cons["new_size"]
    # A refusal: an index beyond the log.
    bad = run_kura("audit", "prove", "--data", str(instance.data), "--index", "999999")
    assert bad.returncode == 1 and "not covered" in bad.stderr
    assert run_kura("audit", "prove", "--data", str(instance.data),
                    "--index", "x").returncode == 2


# ---- tampering, each on a fresh copy of one real log ------------------------------------------

@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A log of ~650 records (two full bundles and a partial one) with a witness file."""
    from conftest import Instance
    root = tmp_path_factory.mktemp("pristine")
    inst = Instance(root).init()
    inst.set("audit", "witness_file", str(root / "witness"))
    server = inst.serve()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: send_raw(server.port, request_bytes(
            server.port, "GET", "/_test/whoami")), range(620)))
    assert server.stop() == 0
    inst.cleanup()
    return inst


def copy_of(pristine, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(pristine.data, data, symlinks=True)
    witness = tmp_path / "witness"
    shutil.copy(pristine.root / "witness", witness)
    conf = (data / "kura.conf").read_text().replace(str(pristine.root / "witness"), str(witness))
    (data / "kura.conf").write_text(conf)
    return data, witness


def rewrite_current(data, fn):
    cur = data / "audit" / "current"
    recs = bundle_records(cur.read_bytes())
    recs = fn(recs)
    cur.write_bytes(b"".join(struct.pack(">H", len(r)) + r for r in recs))


def expect_failure(data, fragment, index=None):
    code, rep = verify(data)
    assert code == 1 and not rep["ok"], rep
    assert fragment in rep["reason"], rep
    if index is not None:
        assert rep["bad_index"] == index, rep
    return rep


def test_pristine_copy_verifies(pristine, tmp_path):
    data, _ = copy_of(pristine, tmp_path)
    code, rep = verify(data)
    assert code == 0 and rep["ok"] and rep["records"] > 600 and rep["witnessed_checked"] > 0


def test_tamper_edit_a_byte(pristine, tmp_path):
    data, _ = copy_of(pristine, tmp_path)
    p = data / "audit" / tile_path("entries", 1)
    b = bytearray(p.read_bytes())
    i = b.index(b'"anonymous"')
    b[i + 1] = ord("A")  # "Anonymous"
    p.write_bytes(bytes(b))
    # The record holding byte i: count records up to it.
    index = 256 + len(bundle_records(bytes(b[:i])))
    expect_failure(data, "the record was altered", index)


def test_tamper_delete_a_record(pristine, tmp_path):
    data, _ = copy_of(pristine, tmp_path)
    first = len(raw_records(pristine.data)) - len(bundle_records(
        (data / "audit" / "current").read_bytes()))
    rewrite_current(data, lambda rs: rs[:10] + rs[11:])
    expect_failure(data, "records were inserted, removed or reordered", first + 10)


def test_tamper_insert_a_record(pristine, tmp_path):
    data, _ = copy_of(pristine, tmp_path)
    first = len(raw_records(pristine.data)) - len(bundle_records(
        (data / "audit" / "current").read_bytes()))
    rewrite_current(data, lambda rs: rs[:10] + [rs[9]] + rs[10:])
    expect_failure(data, "record", first + 10)


def test_tamper_swap_two_records(pristine, tmp_path):
    data, _ = copy_of(pristine, tmp_path)
    first = len(raw_records(pristine.data)) - len(bundle_records(
        (data / "audit" / "current").read_bytes()))
    rewrite_current(data, lambda rs: rs[:5] + [rs[6], rs[5]] + rs[7:])
    expect_failure(data, "record", first + 5)


def test_tamper_truncate_the_tail(pristine, tmp_path):
    """Everything local agrees after truncation (checkpoint rewritten to match? no: removed);
    the witnessed checkpoint still covers the lost records."""
    data, _ = copy_of(pristine, tmp_path)
    rewrite_current(data, lambda rs: rs[:20])
    (data / "audit" / "checkpoint").unlink()
    (data / "audit" / "checkpoints").unlink()
    expect_failure(data, "the log was truncated")


def test_tamper_remove_an_entry_bundle(pristine, tmp_path):
    data, _ = copy_of(pristine, tmp_path)
    (data / "audit" / tile_path("entries", 0)).unlink()
    expect_failure(data, "no audit.pruned record covers it", 0)


def test_tamper_forge_a_checkpoint(pristine, tmp_path):
    data, _ = copy_of(pristine, tmp_path)
    cp = (data / "audit" / "checkpoint").read_text().split("\n")
    cp[2] = base64.b64encode(b"\x01" * 32).decode()  # another root, the old signature
    (data / "audit" / "checkpoint").write_text("\n".join(cp))
    expect_failure(data, "audit/checkpoint does not verify")


def test_tamper_resign_history_with_a_new_key(pristine, tmp_path):
    """An attacker with root rewrites a record, replaces the audit key pair with a fresh one and
    re-signs every local checkpoint. Only the witness, signed by the old key, tells."""
    data, witness = copy_of(pristine, tmp_path)
    rewrite_current(data, lambda rs: rs[:3] + [rs[3].replace(b'"anonymous"', b'"Anonymous"')]
                    + rs[4:])
    for f in ["audit.key", "audit.pub"]:
        (data / "keys" / f).unlink()
    # Fresh keys: a throwaway init makes them; its audit.* replace ours.
    other = tmp_path / "other"
    run_kura("init", "--data", str(other), "--admin", "x", check=True)
    for f in ["audit.key", "audit.pub"]:
        shutil.copy(other / "keys" / f, data / "keys" / f)
        os.chmod(data / "keys" / f, 0o600 if f.endswith(".key") else 0o644)
    # Re-sign: open the log with a server, which rebuilds and publishes with the new key.
    for f in ["checkpoint", "checkpoints"]:
        (data / "audit" / f).unlink()
    for p in (data / "audit" / "tile").rglob("*.p"):
        shutil.rmtree(p)
    # Rebuild the level-0 tile of the current bundle is not needed (partial), so the log now
    # looks consistent locally:
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([KURA_BIN, "serve", "--data", str(data), "--listen",
                               f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60)
    # The port is taken: the server only opened the log (re-signing it) and stopped.
    assert proc.returncode == 1 and "cannot listen" in proc.stderr, proc.stderr
    expect_failure(data, "is not signed by keys/audit.pub")


def test_verify_usage(instance):
    assert run_kura("audit", "verify").returncode == 2
    assert run_kura("audit", "bogus").returncode == 2
    instance.init()
    proc = run_kura("audit", "verify", "--data", str(instance.data))
    assert proc.returncode == 0 and "audit log ok" in proc.stdout


def test_a_new_public_url_keeps_the_logs_origin(instance):
    """The origin is fixed when the log is created: a later public_url with another host must
    neither stop the server nor make the history unverifiable."""
    instance.init()
    server = instance.serve()
    assert server.stop() == 0
    first = (instance.data / "audit" / "checkpoint").read_text().splitlines()[0]
    instance.set("http", "public_url", f"https://kura.example.org:{instance.port}")
    instance.set("http", "allowed_hosts", "localhost")
    server = instance.serve()
    assert server.stop() == 0
    assert (instance.data / "audit" / "checkpoint").read_text().splitlines()[0] == first
    code, summary = verify(instance.data)
    assert code == 0, summary
