"""The audit log over time: retention, the search index and its exports, and the daily digest
of checkpoints by mail — a witness that verify can read back."""
import csv
import email
import email.policy
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import free_port, run_kura
from helpers import request_bytes, send_raw, wait_until
from smtp_server import SmtpServer
from test_audit import records, tile_path, verify
from test_mail import certs  # noqa: F401 (the fixture)

YEAR_MS = 365 * 24 * 60 * 60 * 1000


def burst(server, n, **headers):
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: send_raw(server.port, request_bytes(
            server.port, "GET", "/_test/whoami", extra)), range(n)))


def search(data, *args):
    proc = run_kura("audit", "search", "--data", str(data), *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_retention_prunes_old_payloads_and_still_verifies(instance):
    instance.init()
    server = instance.serve()
    burst(server, 600)
    assert server.stop() == 0
    before = len(records(instance.data))
    # Six years pass while the server is stopped; it starts and runs its maintenance.
    server = instance.serve(env={"KURA_TEST_CLOCK_OFFSET_MS": str(6 * YEAR_MS)})
    wait_until(lambda: not (instance.data / "audit" / tile_path("entries", 0)).exists(), 30,
               "the oldest bundle to be pruned")
    assert server.stop() == 0
    audit = instance.data / "audit"
    assert not (audit / tile_path("entries", 1)).exists()
    assert (audit / tile_path(0, 0)).exists()  # the hashes stay
    pruned = [r for r in records(instance.data) if r["action"] == "audit.pruned"]
    assert len(pruned) == 1 and pruned[0]["detail"]["up_to"] >= 512
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep
    assert rep["pruned_up_to"] == pruned[0]["detail"]["up_to"]
    assert rep["records"] > before
    # The search window (397 days) dropped the old rows too.
    rows = [json.loads(l) for l in search(instance.data).splitlines()]
    assert rows and min(r["index"] for r in rows) >= before


def test_search_filters_and_exports(instance):
    instance.init()
    server = instance.serve()
    burst(server, 20)
    s = server.session()
    s.headers["User-Agent"] = "=cmd|' /C calc'!A0"  # a formula an export must defuse
    assert s.get(server.url + "/nope/x").status_code == 404
    assert s.get(server.url + "/nope/y").status_code == 404
    assert server.stop() == 0
    lines = search(instance.data, "--action", "test.whoami").splitlines()
    assert len(lines) == 20
    assert all(json.loads(l)["action"] == "test.whoami" for l in lines)
    errs = [json.loads(l) for l in search(instance.data, "--result", "error",
                                          "--object", "/nope/").splitlines()]
    assert [e["object"] for e in errs] == ["/nope/x", "/nope/y"]
    assert len(search(instance.data, "--limit", "5").splitlines()) == 5
    assert search(instance.data, "--actor", "user:nobody") == ""
    assert search(instance.data, "--from", "2999-01-01") == ""
    out = search(instance.data, "--result", "error", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:3] == ["index", "time", "actor"]
    agent = rows[1][rows[0].index("user_agent")]
    assert agent == "'=cmd|' /C calc'!A0"  # prefixed: shown as text, never run
    assert json.loads(rows[1][rows[0].index("detail")])["status"] == 404
    # Searching is itself recorded.
    assert records(instance.data)[-1]["action"] == "cli.audit.search"
    for bad in (["--result", "maybe"], ["--from", "yesterday"], ["--format", "xml"]):
        assert run_kura("audit", "search", "--data", str(instance.data), *bad).returncode == 2


def test_search_while_server_runs(instance):
    instance.init()
    server = instance.serve()
    burst(server, 30)
    wait_until(lambda: len(search(instance.data, "--action", "test.whoami").splitlines()) == 30,
               20, "the server's indexer to catch up")
    assert server.stop() == 0


def test_daily_digest_is_a_witness(instance, tmp_path, certs):  # noqa: F811
    relay = SmtpServer(free_port(), tmp_path / "relay", certs["cert"], certs["key"])
    relay.start()
    try:
        instance.init()
        instance.set("mail", "relay", f"127.0.0.1:{relay.port}")
        instance.set("mail", "ca_file", certs["cert"])
        instance.set("mail", "from", "kura@kura.example.org")
        instance.set("audit", "digest_to", "officer@example.org")
        saved = tmp_path / "digests.txt"
        instance.set("audit", "witness_read", str(saved))
        server = instance.serve()
        burst(server, 10)
        got = relay.wait_records(1, timeout=60)
        assert server.stop() == 0
        msg = email.message_from_bytes(got[0]["raw"], policy=email.policy.default)
        assert "audit log daily digest" in msg["Subject"]
        assert got[0]["rcpt_tos"] == ["officer@example.org"]
        body = msg.get_content()
        assert "チェックポイント / checkpoint" in body
        # The officer saves the mail; verify reads the checkpoint in it as a witness.
        saved.write_text(body)
        code, rep = verify(instance.data)
        assert code == 0 and rep["witnessed_checked"] >= 1, rep
        # One digest a day: a second start the same day sends none.
        instance.serve().stop()
        assert len(relay.wait_records(1, timeout=5)) == 1
    finally:
        relay.stop()
