"""`kura fsck`: every stored object checked (header, blob size, every segment in its place,
size and SHA-256, files against their versions, space usage, debris), its exit status, and the
crash-safety it certifies: kill -9 in the middle of 20 concurrent uploads leaves every file
either absent or complete, and fsck clean."""
import json
import os
import shutil
import sqlite3
import threading

import pytest
import requests

from conftest import run_kura
from test_audit import records
from test_dav import Dav, dav  # noqa: F401  (the fixture)

MiB = 1024 * 1024
CSEG = 65536 + 28  # one cipher segment: nonce, 64 KiB, tag


def fsck(instance, *extra):
    proc = run_kura("fsck", "--data", str(instance.data), "--json", *extra, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def db(instance):
    return sqlite3.connect(instance.data / "kura.db")


def blob_path(instance, blob):
    return instance.data / "blobs" / blob[:2] / blob[2:4] / blob


def last_version(instance):
    return db(instance).execute(
        "SELECT id, blob FROM versions ORDER BY id DESC LIMIT 1").fetchone()


def writable(path):
    os.chmod(path, 0o600)
    return path


def test_clean_store_and_a_flipped_byte(dav):
    """A clean store passes; one flipped byte in one blob makes the read fail and fsck report
    exactly that version (and flag it), with exit status 1."""
    d, instance = dav["rw"], dav["instance"]
    files = {f"/f{i}.bin": os.urandom(i * 40_000 + 1) for i in range(6)}
    files["/empty"] = b""
    assert d.req("MKCOL", "/sub").status_code == 201
    files["/sub/deep.bin"] = os.urandom(3 * 65536)
    for path, data in files.items():
        assert d.req("PUT", path, data=data).status_code == 201
    assert d.req("PUT", "/f1.bin", data=b"second version").status_code == 204
    files["/f1.bin"] = b"second version"
    code, rep = fsck(instance)
    assert code == 0 and rep["ok"], rep
    assert rep["versions"] == 9 and rep["errors"] == 0 and rep["warnings"] == 0
    assert rep["bytes"] == sum(len(v) for v in files.values()) + 40_001
    assert rep["spaces"] >= 1 and rep["nodes"] >= 10 and rep["blobs"] == 9

    vid, blob = db(instance).execute(
        "SELECT v.id, v.blob FROM versions v JOIN nodes n ON n.version = v.id "
        "WHERE n.path = 'sub/deep.bin'").fetchone()
    p = writable(blob_path(instance, blob))
    raw = bytearray(p.read_bytes())
    raw[CSEG + 500] ^= 0x10  # inside the second segment
    p.write_bytes(bytes(raw))
    got = b""
    try:
        with d.s.get(d.url("/sub/deep.bin"), stream=True, timeout=60) as r:
            for chunk in r.iter_content(65536):
                got += chunk
    except requests.exceptions.RequestException:
        pass
    d.s.close()
    assert got != files["/sub/deep.bin"] and len(got) <= 65536

    code, rep = fsck(instance)
    assert code == 1 and not rep["ok"]
    assert rep["problems"]["data"] == 1 and rep["errors"] == 1, rep
    (finding,) = rep["findings"]
    assert finding["kind"] == "data" and finding["version"] == vid and finding["blob"] == blob
    assert finding["error"] == "crypto_failed"
    assert db(instance).execute("SELECT corrupt_at FROM versions WHERE id = ?",
                                (vid,)).fetchone()[0]
    # Every other file still reads.
    for path, data in files.items():
        if path != "/sub/deep.bin":
            assert d.req("GET", path).content == data, path
    # The text form names it too, and the run is in the audit log.
    proc = run_kura("fsck", "--data", str(instance.data))
    assert proc.returncode == 1
    assert f"error: data: version {vid}" in proc.stdout and "1 problems" in proc.stdout
    recs = [r for r in records(instance.data) if r["action"] == "cli.fsck"]
    assert [r["result"] for r in recs] == ["ok", "error", "error"]


def test_a_segment_swapped_inside_a_blob_is_caught_by_a_range_read(dav):
    """Two whole segments exchanged: each still authenticates, but not at its position. A range
    read of either is refused; one before them is served; fsck reports it."""
    d, instance = dav["rw"], dav["instance"]
    data = os.urandom(4 * 65536)
    assert d.req("PUT", "/swap.bin", data=data).status_code == 201
    vid, blob = last_version(instance)
    p = writable(blob_path(instance, blob))
    raw = p.read_bytes()
    seg = [raw[i * CSEG:(i + 1) * CSEG] for i in range(4)]
    p.write_bytes(seg[0] + seg[2] + seg[1] + seg[3])
    r = d.req("GET", "/swap.bin", headers={"Range": "bytes=10-99"})
    assert r.status_code == 206 and r.content == data[10:100]
    for first in (65536 + 7, 2 * 65536 + 7):
        body = b""
        try:
            with d.s.get(d.url("/swap.bin"), headers={"Range": f"bytes={first}-{first + 99}"},
                         stream=True, timeout=60) as r:
                for chunk in r.iter_content(65536):
                    body += chunk
        except requests.exceptions.RequestException:
            pass
        d.s.close()
        assert body != data[first:first + 100] and len(body) < 100, first
    code, rep = fsck(instance)
    assert code == 1 and rep["problems"]["data"] == 1
    assert rep["findings"][0]["version"] == vid


def test_exit_codes_and_every_kind_of_problem(dav):
    d, instance = dav["rw"], dav["instance"]
    data_dir = instance.data
    assert run_kura("fsck").returncode == 2
    assert run_kura("fsck", "--data", str(data_dir), "--bogus").returncode == 2
    assert run_kura("fsck", "--data", str(data_dir / "nope")).returncode == 1
    for i in range(4):
        assert d.req("PUT", f"/k{i}", data=os.urandom(70_000)).status_code == 201
    assert fsck(instance)[0] == 0

    # Debris is a warning (exit 0), an error with --strict.
    vid, blob = last_version(instance)
    orphan = "f" * 32
    dst = blob_path(instance, orphan)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(blob_path(instance, blob), dst)
    (data_dir / "tmp" / "upload-left-over").write_bytes(b"x")
    code, rep = fsck(instance)
    assert code == 0 and rep["ok"] and rep["warnings"] == 2, rep
    assert rep["problems"]["orphan_blob"] == 1 and rep["problems"]["temp_file"] == 1
    assert {f["severity"] for f in rep["findings"]} == {"warning"}
    code, rep = fsck(instance, "--strict")
    assert code == 1 and rep["errors"] == 2
    dst.unlink()
    (data_dir / "tmp" / "upload-left-over").unlink()

    # A missing blob, a truncated one, a space that miscounts, a file that contradicts its
    # version.
    rows = db(instance).execute("SELECT v.id, v.blob, n.id, n.space FROM versions v JOIN nodes n "
                                "ON n.version = v.id ORDER BY v.id").fetchall()
    (v0, b0, _, _), (v1, b1, _, _), (v2, _, n2, space) = rows[0], rows[1], rows[2]
    blob_path(instance, b0).unlink()
    p = writable(blob_path(instance, b1))
    p.write_bytes(p.read_bytes()[:-1])
    con = db(instance)
    con.execute("UPDATE spaces SET used_bytes = used_bytes + 5 WHERE id = ?", (space,))
    con.execute("UPDATE nodes SET size = size + 1 WHERE id = ?", (n2,))
    con.commit()
    code, rep = fsck(instance, "--no-flag")
    assert code == 1
    p = rep["problems"]
    assert (p["blob_missing"], p["blob_size"], p["space_usage"], p["node"]) == (1, 1, 1, 1), p
    assert rep["errors"] == 4 and rep["warnings"] == 0
    by_kind = {f["kind"]: f for f in rep["findings"]}
    assert by_kind["blob_missing"]["version"] == v0 and by_kind["blob_size"]["version"] == v1
    assert by_kind["node"]["node"] == n2 and by_kind["space_usage"]["space"] == space
    assert "used_bytes" in by_kind["space_usage"]["detail"]
    # --no-flag left the versions unflagged; a plain run flags the damaged ones.
    flagged = lambda: {r[0] for r in db(instance).execute(  # noqa: E731
        "SELECT id FROM versions WHERE corrupt_at IS NOT NULL")}
    assert flagged() == set()
    assert fsck(instance)[0] == 1
    assert flagged() == {v0, v1}
    assert v2 not in flagged()


def test_kill_9_during_20_concurrent_uploads_then_fsck_is_clean(dav):
    """20 uploads stream at once; when all of them have sent their first part (a barrier, not a
    sleep) the server is killed. After a restart every file is either absent or whole, every
    upload the client saw succeed is there, and fsck finds nothing, not even debris."""
    instance, server = dav["instance"], dav["server"]
    password = dav["rw"].s.auth[1]
    n = 20
    contents = {i: os.urandom(5 * 256 * 1024 + i * 1000) for i in range(n)}
    # Half of them are small and finish before the kill; the others are cut.
    for i in range(0, n, 2):
        contents[i] = contents[i][:100_000 + i]
    barrier = threading.Barrier(n + 1)
    results = {}

    def upload(i):
        data = contents[i]
        dv = Dav(server, "rin", password)

        def body():
            yield data[:256 * 1024]
            if i % 2:
                barrier.wait(timeout=120)
                for off in range(256 * 1024, len(data), 256 * 1024):
                    yield data[off:off + 256 * 1024]

        try:
            if i % 2:
                r = dv.req("PUT", f"/u{i}.bin", data=body())
            else:
                r = dv.req("PUT", f"/u{i}.bin", data=data)
                barrier.wait(timeout=120)
            results[i] = r.status_code
        except (requests.exceptions.RequestException, threading.BrokenBarrierError):
            results[i] = None

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait(timeout=120)
    server.proc.kill()
    server.proc.wait(timeout=30)
    for t in threads:
        t.join(timeout=120)
    assert all(results[i] == 201 for i in range(0, n, 2)), results

    server2 = instance.serve()
    dv = Dav(server2, "rin", password)
    present = 0
    for i in range(n):
        r = dv.req("GET", f"/u{i}.bin")
        if results.get(i) == 201:
            assert r.status_code == 200 and r.content == contents[i], i
        assert r.status_code in (200, 404), (i, r.status_code)
        if r.status_code == 200:
            assert r.content == contents[i], i
            present += 1
    assert present >= n // 2
    code, rep = fsck(instance)
    assert code == 0 and rep["errors"] == 0 and rep["warnings"] == 0, rep
    assert rep["versions"] == present
