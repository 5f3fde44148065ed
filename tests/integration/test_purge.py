"""Trash, file versions and purge through the real server and CLI: a purge crypto-shreds (the
blob is gone and the Crypt4GH header's bytes are in no file of the data folder: not kura.db, not
kura.db-wal, not the audit log), its deletion certificate verifies with `kura verify-certificate`
and a certificate changed by one byte does not; a blob another file shares (WebDAV COPY) is
retained and the certificate says so; the trash lists and restores; versions list and restore
(content back, quota charged); the daily job purges what has been in the trash for
[store] trash_days; every operation leaves its audit record."""
import base64
import datetime
import hashlib
import json
import os
import sqlite3
import stat
import time

import pytest

from conftest import run_kura
from helpers import wait_until
from test_audit import records
from test_dav import Dav, app_password, dav  # noqa: F401 (dav: a fixture, a user with app passwords)
from test_identity import add_user, enrol, fast

DAY_MS = 24 * 3600 * 1000


# ---- helpers ------------------------------------------------------------------------------------

def api(dav, method, path, body=None, session=None, csrf=None):
    s = session or dav["session"]
    headers = {"X-CSRF-Token": csrf or dav["csrf"]}
    return s.request(method, dav["server"].url + path, json=body, headers=headers, timeout=120)


def db(instance):
    """A read-only look at kura.db (closed again before anything else happens: an open reader
    would hold back the purge's checkpoint)."""
    return sqlite3.connect(f"file:{instance.data / 'kura.db'}?mode=ro", uri=True)


def versions_of(instance, path):
    """(header, blob) of every version of the nodes at path, live or trashed."""
    con = db(instance)
    try:
        return con.execute("SELECT v.header, v.blob FROM versions v JOIN nodes n ON n.id = v.node "
                           "WHERE n.path = ? ORDER BY v.id", (path,)).fetchall()
    finally:
        con.close()


def live_node_id(instance, path):
    con = db(instance)
    try:
        return con.execute("SELECT id FROM nodes WHERE path = ? AND trash_root IS NULL",
                           (path,)).fetchone()[0]
    finally:
        con.close()


def used_bytes(instance, owner="rin"):
    con = db(instance)
    try:
        return con.execute("SELECT used_bytes FROM spaces WHERE owner = ?", (owner,)).fetchone()[0]
    finally:
        con.close()


def every_file(root):
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.isfile(p) and not os.path.islink(p):
                yield p


def pieces(header):
    """What identifies a header: the whole, and every 16-byte window of its last 64 bytes (the
    nonce, the encrypted data key and the MAC; the start is the same in every header: magic,
    version, the server's public key)."""
    tail = header[-64:]
    return [header, tail] + [tail[i:i + 16] for i in range(0, 49, 8)]


def files_holding(root, header):
    found = []
    for p in every_file(root):
        with open(p, "rb") as fh:
            data = fh.read()
        if any(piece in data for piece in pieces(header)):
            found.append(p)
    return found


def blob_path(instance, blob):
    for p in every_file(instance.data / "blobs"):
        if os.path.basename(p) == blob:
            return p
    return None


def verify(instance, path, *key):
    args = key or ("--data", str(instance.data))
    return run_kura("verify-certificate", str(path), *args)


def trash(dav):
    r = api(dav, "GET", "/api/v1/trash")
    assert r.status_code == 200, r.text
    return r.json()["trash"]


def trash_id(dav, path):
    return [t["id"] for t in trash(dav) if t["path"] == path][-1]


def audit_actions(instance):
    return [(r["action"], r.get("result")) for r in records(instance.data)]


def rfc3339(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


def check_shredded(instance, before, cert_doc):
    """The blob file is gone and no file under the data folder holds the header."""
    (header, blob), = before
    assert blob_path(instance, blob) is None
    assert files_holding(instance.data, header) == []
    cert = cert_doc["certificate"]
    assert cert["files"][0]["blob"] == "removed" and cert["blobs_removed"] == 1


# ---- purge --------------------------------------------------------------------------------------

def test_purge_via_api_shreds_the_header_and_certifies(dav, tmp_path):
    instance, d = dav["instance"], dav["rw"]
    data = b"RECOGNISABLE-PLAINTEXT-" * 5000
    assert d.req("PUT", "/study/a.txt", data=data).status_code == 409
    assert d.req("MKCOL", "/study").status_code == 201
    assert d.req("PUT", "/study/a.txt", data=data).status_code == 201
    before = versions_of(instance, "study/a.txt")
    (header, blob), = before
    assert len(header) > 64 and blob_path(instance, blob)
    assert d.req("DELETE", "/study/a.txt").status_code == 204
    item = [t for t in trash(dav) if t["path"] == "study/a.txt"]
    assert len(item) == 1 and item[0]["kind"] == "file" and item[0]["size"] == len(data)
    assert item[0]["trashed_by"] == "user:rin" and item[0]["files"] == 1
    # The test can fail: the header is in the database (main file or log) before the purge.
    assert files_holding(instance.data, header) != []
    assert used_bytes(instance) == len(data)

    r = api(dav, "DELETE", f"/api/v1/trash/{item[0]['id']}")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    check_shredded(instance, before, doc)
    cert = doc["certificate"]
    assert set(doc) == {"certificate", "signature", "public_key"}
    assert cert["type"] == "kura-deletion-certificate" and cert["version"] == 1
    assert cert["install_id"] == (instance.data / "install-id").read_text().strip()
    assert cert["object_id"] == item[0]["id"] and cert["kind"] == "file"
    assert cert["space"] == "personal:rin" and cert["path"] == "study/a.txt"
    assert cert["size"] == len(data) and cert["sha256"] == hashlib.sha256(data).hexdigest()
    assert cert["files"] == [{"path": "study/a.txt", "size": len(data),
                              "sha256": hashlib.sha256(data).hexdigest(), "versions": 1,
                              "blob": "removed"}]
    assert cert["deleted_by"] == "user:rin" and cert["trashed_by"] == "user:rin"
    assert "wal_checkpoint(TRUNCATE)" in cert["method"] and "secure_delete" in cert["method"]
    held = rfc3339(cert["backups_may_hold_header_until"]) - rfc3339(cert["deleted_at"])
    assert held == datetime.timedelta(days=35)  # [store] backup_retention_days
    assert used_bytes(instance) == 0
    # The signature covers the canonical bytes; the public key is the installation's.
    # The document is canonical JSON as any library writes it (sorted keys, no whitespace).
    assert r.text == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert len(base64.b64decode(doc["signature"])) == 64
    assert len(base64.b64decode(doc["public_key"])) == 32

    # The copy kept in the data folder: the same document, 0600.
    copy = instance.data / "certificates" / f"{cert['certificate_id']}.json"
    assert copy.read_text() == r.text + "\n"
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600

    # kura verify-certificate: valid as issued and when re-formatted; not after any change.
    good = tmp_path / "cert.json"
    good.write_text(r.text)
    p = verify(instance, good)
    assert p.returncode == 0 and cert["certificate_id"] in p.stdout, p.stderr
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    assert verify(instance, pretty).returncode == 0
    bad_path = tmp_path / "bad-path.json"
    bad_path.write_text(r.text.replace('"path":"study/a.txt"', '"path":"study/b.txt"', 1))
    assert bad_path.read_text() != r.text
    p = verify(instance, bad_path)
    assert p.returncode == 1 and "altered" in p.stderr
    sig = doc["signature"]
    flipped = ("B" if sig[10] != "B" else "C").join([sig[:10], sig[11:]])
    bad_sig = tmp_path / "bad-sig.json"
    bad_sig.write_text(r.text.replace(sig, flipped))
    assert verify(instance, bad_sig).returncode == 1
    raw = bytearray(r.content)
    raw[raw.index(b'"size":') + 7] ^= 1  # one byte of a number
    bad_byte = tmp_path / "bad-byte.json"
    bad_byte.write_bytes(bytes(raw))
    assert verify(instance, bad_byte).returncode == 1
    for junk in (b"", b"{}", b"[1]", b"not json", r.content[:-1]):
        bad = tmp_path / "junk.json"
        bad.write_bytes(junk)
        assert verify(instance, bad).returncode == 1
    assert run_kura("verify-certificate", str(good)).returncode == 2  # which key: required

    # Gone from the trash; a second purge finds nothing.
    assert not [t for t in trash(dav) if t["path"] == "study/a.txt"]
    assert api(dav, "DELETE", f"/api/v1/trash/{item[0]['id']}").status_code == 404
    assert trash(dav) == []
    # Without the CSRF token: refused before anything happens.
    r = dav["session"].delete(dav["server"].url + "/api/v1/trash/1", timeout=30)
    assert r.status_code == 403
    acts = audit_actions(instance)
    assert ("files.purge", "ok") in acts and ("files.trash_list", "ok") in acts
    purge_rec = [x for x in records(instance.data) if x["action"] == "files.purge"
                 and x["result"] == "ok"]
    assert purge_rec[0]["object"] == cert["certificate_id"]
    assert purge_rec[0]["actor"] == "user:rin"


def keeping_one_version(instance, tmp_path):
    """A server keeping one earlier version, its first maintenance run over (its trash run
    checkpoints too; the next is an hour away), and a user with a read-write app password."""
    server = fast(instance, ("store", "versions_keep", "1"))
    server.wait_for_log("event=trash_purge ", 30)
    otp = add_user(instance, tmp_path, "rin")
    s, csrf, _ = enrol(server, "rin", otp, "a long river passphrase 2026")
    return server, Dav(server, "rin", app_password(server, s, csrf, "laptop", "read-write"))


def two_versions(instance, d):
    """v.txt with two versions; the first one's header, found in the data folder, and blob."""
    for i in range(2):
        assert d.req("PUT", "/v.txt", data=f"version {i}".encode()).status_code in (201, 204)
    (first, first_blob), (second, _) = versions_of(instance, "v.txt")
    # The test can fail: the first header is in the database's files now.
    assert files_holding(instance.data, first) != []
    return first, first_blob, second


def test_pruned_versions_leave_no_header_behind(instance, tmp_path):
    """An overwrite beyond [store] versions_keep drops the oldest version and its blob. Its
    header holds the file's data key, so it must not stay in the write-ahead log either: the
    server checkpoints the log within about a second (kura_store_checkpoint_pruned), where it
    would otherwise wait for the next trash run (daily) or for the log to be overwritten."""
    server, d = keeping_one_version(instance, tmp_path)
    first, first_blob, second = two_versions(instance, d)
    assert d.req("PUT", "/v.txt", data=b"version 2").status_code == 204
    kept = [h for h, _ in versions_of(instance, "v.txt")]
    assert len(kept) == 2 and kept[0] == second, "the oldest version was not the one dropped"
    assert blob_path(instance, first_blob) is None
    wait_until(lambda: files_holding(instance.data, first) == [], 20,
               "the dropped version's header to leave every file of the data folder")
    assert d.req("GET", "/v.txt").content == b"version 2"


def test_pruned_header_checkpoint_does_not_wait_for_another_process(instance, tmp_path):
    """While another process reads the database (here a read transaction; a long `kura fsck` or
    a backup in life), the checkpoint after a dropped version fails at once and is tried again
    every 5 s: requests are not held up for SQLite's 5 s busy timeout meanwhile. Once the reader
    is gone, the header leaves."""
    server, d = keeping_one_version(instance, tmp_path)
    first, _, _ = two_versions(instance, d)
    con = db(instance)
    try:
        con.execute("BEGIN")
        con.execute("SELECT count(*) FROM versions").fetchone()
        assert d.req("PUT", "/v.txt", data=b"version 2").status_code == 204
        slowest, until = 0.0, time.monotonic() + 3
        while time.monotonic() < until:
            t = time.monotonic()
            assert d.req("GET", "/v.txt").status_code == 200
            slowest = max(slowest, time.monotonic() - t)
        assert slowest < 2.5, f"a GET waited {slowest:.2f}s behind the checkpoint"
        server.wait_for_log("event=pruned_headers_checkpoint_failed", 10)
        assert files_holding(instance.data, first) != []  # the reader keeps the log
    finally:
        con.close()
    wait_until(lambda: files_holding(instance.data, first) == [], 20,
               "the dropped version's header to leave every file once the reader is gone")
    server.wait_for_log("event=pruned_headers_checkpointed", 10)


def test_purge_via_cli_trashed_and_live(dav, tmp_path):
    instance, d = dav["instance"], dav["rw"]
    data = b"ANOTHER-RECOGNISABLE-TEXT-" * 100
    assert d.req("PUT", "/b.txt", data=data).status_code == 201
    assert d.req("PUT", "/b.txt", data=data + b"v2").status_code == 204  # two versions
    before = versions_of(instance, "b.txt")
    assert len(before) == 2
    assert d.req("DELETE", "/b.txt").status_code == 204
    out = tmp_path / "b.cert"
    p = run_kura("purge", "--data", str(instance.data), "--user", "rin", "--path", "/b.txt",
                 "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    doc = json.loads(out.read_text())
    cert = doc["certificate"]
    assert cert["versions"] == 2 and cert["files"][0]["versions"] == 2
    assert cert["blobs_removed"] == 2 and cert["deleted_by"].startswith("cli:")
    for header, blob in before:
        assert blob_path(instance, blob) is None
        assert files_holding(instance.data, header) == []
    assert verify(instance, out).returncode == 0
    # --public-key: the same key as a file; another installation's key does not verify it.
    pub = instance.data / "keys" / "sign.pub"
    assert verify(instance, out, "--public-key", str(pub)).returncode == 0
    other = tmp_path / "other.pub"
    key = tmp_path / "other.key"
    assert os.system(f"openssl genpkey -algorithm ed25519 -out {key} 2>/dev/null") == 0
    assert os.system(f"openssl pkey -in {key} -pubout -out {other} 2>/dev/null") == 0
    p = verify(instance, out, "--public-key", str(other))
    assert p.returncode == 1 and "another key" in p.stderr

    # A live path: trashed, then purged; the certificate goes to stdout.
    assert d.req("PUT", "/live.txt", data=b"live content").status_code == 201
    (header, blob), = versions_of(instance, "live.txt")
    p = run_kura("purge", "--data", str(instance.data), "--user", "rin", "--path", "live.txt")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["certificate"]["path"] == "live.txt"
    assert d.req("GET", "/live.txt").status_code == 404
    assert not [t for t in trash(dav) if t["path"] == "live.txt"]
    assert blob_path(instance, blob) is None and files_holding(instance.data, header) == []
    cli_rec = [r for r in records(instance.data) if r["action"] == "cli.purge"]
    assert len(cli_rec) == 2 and cli_rec[1]["actor"].startswith("cli:")
    assert cli_rec[1]["detail"]["certificate_id"] == doc["certificate"]["certificate_id"]
    assert cli_rec[1]["object"] == "personal:rin/live.txt"
    # Nothing left to purge, the root never, usage errors are 2.
    p = run_kura("purge", "--data", str(instance.data), "--user", "rin", "--path", "live.txt")
    assert p.returncode == 1 and "nothing" in p.stderr
    p = run_kura("purge", "--data", str(instance.data), "--user", "rin", "--path", "/")
    assert p.returncode == 1
    assert run_kura("purge", "--data", str(instance.data), "--user", "rin").returncode == 2
    p = run_kura("purge", "--data", str(instance.data), "--user", "nobody", "--path", "x")
    assert p.returncode == 1 and "no account" in p.stderr


def test_a_blob_another_file_shares_is_retained(dav):
    instance, d = dav["instance"], dav["rw"]
    data = b"shared content " * 1000
    assert d.req("PUT", "/orig.bin", data=data).status_code == 201
    r = d.req("COPY", "/orig.bin", headers={"Destination": d.url("/copy.bin")})
    assert r.status_code == 201, r.text
    (_, blob), = versions_of(instance, "orig.bin")
    assert d.req("DELETE", "/orig.bin").status_code == 204
    r = api(dav, "DELETE", f"/api/v1/trash/{trash_id(dav, 'orig.bin')}")
    assert r.status_code == 200, r.text
    cert = r.json()["certificate"]
    assert cert["files"][0]["blob"] == "retained"
    assert cert["blobs_retained"] == 1 and cert["blobs_removed"] == 0
    assert "retained" in cert["method"]
    assert blob_path(instance, blob) is not None
    assert d.req("GET", "/copy.bin").content == data
    # A live node is not purged through the trash API.
    r = api(dav, "DELETE", f"/api/v1/trash/{live_node_id(instance, 'copy.bin')}")
    assert r.status_code == 404
    assert d.req("GET", "/copy.bin").content == data
    # The copy purged too: now nothing uses the blob.
    assert d.req("DELETE", "/copy.bin").status_code == 204
    r = api(dav, "DELETE", f"/api/v1/trash/{trash_id(dav, 'copy.bin')}")
    assert r.status_code == 200 and r.json()["certificate"]["files"][0]["blob"] == "removed"
    assert blob_path(instance, blob) is None


def test_purge_of_a_folder_lists_its_files(dav, tmp_path):
    instance, d = dav["instance"], dav["rw"]
    assert d.req("MKCOL", "/proj").status_code == 201
    assert d.req("MKCOL", "/proj/sub").status_code == 201
    assert d.req("PUT", "/proj/sub/x.csv", data=b"x,y\n1,2\n").status_code == 201
    assert d.req("PUT", "/proj/データ.txt", data=b"nihongo").status_code == 201
    assert d.req("DELETE", "/proj").status_code == 204
    item = [t for t in trash(dav) if t["path"] == "proj"][0]
    assert item["kind"] == "folder" and item["files"] == 2 and item["size"] == 15
    r = api(dav, "DELETE", f"/api/v1/trash/{item['id']}")
    assert r.status_code == 200, r.text
    cert = r.json()["certificate"]
    assert cert["kind"] == "folder" and cert["sha256"] is None and cert["size"] == 15
    assert cert["file_count"] == 2 and cert["folder_count"] == 2
    assert [f["path"] for f in cert["files"]] == ["proj/sub/x.csv", "proj/データ.txt"]
    assert not cert["files_truncated"]
    out = tmp_path / "folder.json"
    out.write_text(r.text, encoding="utf-8")
    assert verify(instance, out).returncode == 0


# ---- trash --------------------------------------------------------------------------------------

def test_trash_list_and_restore(dav, tmp_path):
    instance, d, server = dav["instance"], dav["rw"], dav["server"]
    assert d.req("PUT", "/t.txt", data=b"first").status_code == 201
    assert d.req("DELETE", "/t.txt").status_code == 204
    tid = trash_id(dav, "t.txt")
    r = api(dav, "POST", f"/api/v1/trash/{tid}/restore", {})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": tid, "path": "t.txt", "kind": "file", "restored": True}
    assert d.req("GET", "/t.txt").content == b"first"
    assert trash(dav) == []
    # Its path is taken meanwhile: 409 unless another path is given.
    assert d.req("DELETE", "/t.txt").status_code == 204
    assert d.req("PUT", "/t.txt", data=b"newer").status_code == 201
    r = api(dav, "POST", f"/api/v1/trash/{tid}/restore", {})
    assert r.status_code == 409 and r.json()["error"]["code"] == "exists"
    r = api(dav, "POST", f"/api/v1/trash/{tid}/restore", {"to": "../x"})
    assert r.status_code == 400
    r = api(dav, "POST", f"/api/v1/trash/{tid}/restore", {"to": "t (restored).txt"})
    assert r.status_code == 200 and r.json()["path"] == "t (restored).txt"
    assert d.req("GET", "/t%20(restored).txt").content == b"first"
    assert d.req("GET", "/t.txt").content == b"newer"
    # Unknown ids, malformed paths, no CSRF.
    assert api(dav, "POST", "/api/v1/trash/999999/restore", {}).status_code == 404
    assert api(dav, "POST", "/api/v1/trash/abc/restore", {}).status_code == 404
    r = dav["session"].get(server.url + "/api/v1/trash", timeout=30)
    assert r.status_code == 200  # reading needs no CSRF token
    r = dav["session"].post(server.url + f"/api/v1/trash/{tid}/restore", json={}, timeout=30)
    assert r.status_code == 403

    # A folder, from the CLI.
    assert d.req("MKCOL", "/dir").status_code == 201
    assert d.req("PUT", "/dir/x", data=b"xx").status_code == 201
    assert d.req("DELETE", "/dir").status_code == 204
    p = run_kura("files", "trash", "--data", str(instance.data), "--user", "rin", "--json")
    assert p.returncode == 0, p.stderr
    items = [json.loads(line) for line in p.stdout.splitlines()]
    assert [(i["path"], i["kind"], i["size"], i["files"]) for i in items] == \
        [("dir", "folder", 2, 1)]
    p = run_kura("files", "restore", "--data", str(instance.data), "--user", "rin", "--path", "dir")
    assert p.returncode == 0, p.stderr
    assert d.req("GET", "/dir/x").content == b"xx"
    p = run_kura("files", "restore", "--data", str(instance.data), "--user", "rin", "--path", "dir")
    assert p.returncode == 1 and "nothing" in p.stderr
    assert run_kura("files", "restore", "--data", str(instance.data), "--user",
                    "rin").returncode == 2

    # Another person's trash is not reachable: their ids are unknown here.
    otp = add_user(instance, tmp_path, "ken")
    s2, csrf2, _ = enrol(server, "ken", otp, "another long river passphrase 2026")
    assert d.req("DELETE", "/dir").status_code == 204
    mine = trash_id(dav, "dir")
    r = api(dav, "POST", f"/api/v1/trash/{mine}/restore", {}, session=s2, csrf=csrf2)
    assert r.status_code == 404
    r = api(dav, "DELETE", f"/api/v1/trash/{mine}", session=s2, csrf=csrf2)
    assert r.status_code == 404
    r = api(dav, "GET", "/api/v1/trash", session=s2, csrf=csrf2)
    assert r.json() == {"trash": []}
    assert trash_id(dav, "dir") == mine

    acts = audit_actions(instance)
    for action in ("files.trash_list", "files.trash_restore", "cli.files.trash",
                   "cli.files.restore"):
        assert (action, "ok") in acts, action
    assert ("files.trash_restore", "error") in acts  # the 409 and 404s are recorded too


# ---- versions -----------------------------------------------------------------------------------

def test_versions_list_and_restore(dav):
    instance, d = dav["instance"], dav["rw"]
    for content in (b"one", b"two!", b"three"):
        assert d.req("PUT", "/v.txt", data=content).status_code in (201, 204)
    r = api(dav, "GET", "/api/v1/files/versions/v.txt")
    assert r.status_code == 200, r.text
    vs = r.json()["versions"]
    assert [v["size"] for v in vs] == [5, 4, 3]  # newest first
    assert [v["current"] for v in vs] == [True, False, False]
    assert vs[2]["sha256"] == hashlib.sha256(b"one").hexdigest()
    assert vs[0]["created_by"] == "user:rin"
    used = used_bytes(instance)
    assert used == 12

    r = api(dav, "POST", f"/api/v1/files/versions/{vs[2]['id']}/restore", {})
    assert r.status_code == 200, r.text
    assert r.json()["size"] == 3 and r.json()["version"] not in [v["id"] for v in vs]
    assert d.req("GET", "/v.txt").content == b"one"
    assert used_bytes(instance) == used + 3  # the restored version is charged
    vs2 = api(dav, "GET", "/api/v1/files/versions/v.txt").json()["versions"]
    assert len(vs2) == 4 and vs2[0]["current"] and vs2[0]["sha256"] == vs[2]["sha256"]
    # The current version again: nothing changes.
    r = api(dav, "POST", f"/api/v1/files/versions/{vs2[0]['id']}/restore", {})
    assert r.status_code == 200 and len(api(dav, "GET", "/api/v1/files/versions/v.txt")
                                        .json()["versions"]) == 4

    # The quota: a restore beyond it is 507 and changes nothing.
    con = sqlite3.connect(instance.data / "kura.db")
    con.execute("UPDATE spaces SET quota_bytes = used_bytes + 1 WHERE owner = 'rin'")
    con.commit()
    con.close()
    r = api(dav, "POST", f"/api/v1/files/versions/{vs[0]['id']}/restore", {})
    assert r.status_code == 507, r.text
    assert d.req("GET", "/v.txt").content == b"one"

    # The CLI: list and restore.
    p = run_kura("files", "versions", "--data", str(instance.data), "--user", "rin", "--path",
                 "/v.txt", "--json")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [x["id"] for x in lines] == [v["id"] for v in vs2]
    con = sqlite3.connect(instance.data / "kura.db")
    con.execute("UPDATE spaces SET quota_bytes = 0 WHERE owner = 'rin'")
    con.commit()
    con.close()
    p = run_kura("files", "restore-version", "--data", str(instance.data), "--user", "rin",
                 "--path", "v.txt", "--version", str(vs[1]["id"]))
    assert p.returncode == 0, p.stderr
    assert d.req("GET", "/v.txt").content == b"two!"
    p = run_kura("files", "restore-version", "--data", str(instance.data), "--user", "rin",
                 "--path", "v.txt", "--version", "999999")
    assert p.returncode == 1 and "no version" in p.stderr

    # Not a file, not there, not a version of this space.
    assert d.req("MKCOL", "/folder").status_code == 201
    assert api(dav, "GET", "/api/v1/files/versions/folder").status_code == 400
    assert api(dav, "GET", "/api/v1/files/versions/missing.txt").status_code == 404
    assert api(dav, "POST", "/api/v1/files/versions/999999/restore", {}).status_code == 404
    r = dav["session"].post(dav["server"].url + f"/api/v1/files/versions/{vs[2]['id']}/restore",
                            json={}, timeout=30)
    assert r.status_code == 403  # CSRF

    acts = audit_actions(instance)
    for action in ("files.versions", "files.version_restore", "cli.files.versions",
                   "cli.files.restore_version"):
        assert (action, "ok") in acts, action


# ---- the daily job ------------------------------------------------------------------------------

def test_daily_job_purges_expired_trash(dav, tmp_path):
    instance, d = dav["instance"], dav["rw"]
    server = dav["server"]

    def runs():
        return server.log().count("event=trash_purge ")

    wait_until(lambda: runs() >= 1, 30, "the trash job's run at start")
    assert d.req("PUT", "/old.txt", data=b"old content").status_code == 201
    assert d.req("PUT", "/kept.txt", data=b"kept content").status_code == 201
    (header, blob), = versions_of(instance, "old.txt")
    assert d.req("DELETE", "/old.txt").status_code == 204
    # 29 days on, the job runs again: still in the trash ([store] trash_days = 30).
    run_kura("debug", "clock-shift", "--data", str(instance.data), str(29 * DAY_MS), check=True)
    wait_until(lambda: runs() >= 2, 30, "the trash job's run on day 29")
    assert "purged=0" in server.log().split("event=trash_purge ")[2].splitlines()[0]
    assert blob_path(instance, blob) is not None
    assert d.req("DELETE", "/kept.txt").status_code == 204
    # 31 days after the delete: purged by the system, with a certificate.
    run_kura("debug", "clock-shift", "--data", str(instance.data), str(2 * DAY_MS), check=True)
    rec = wait_until(lambda: [r for r in records(instance.data) if r["action"] == "store.purge"],
                     60, "the store.purge record", interval=0.1)
    assert len(rec) == 1 and rec[0]["actor"] == "system" and rec[0]["result"] == "ok"
    assert rec[0]["detail"]["path"] == "old.txt" and rec[0]["detail"]["trash_days"] == 30
    cid = rec[0]["detail"]["certificate_id"]
    copy = instance.data / "certificates" / f"{cid}.json"
    cert = json.loads(copy.read_text())["certificate"]
    assert cert["deleted_by"] == "system:trash-retention" and cert["path"] == "old.txt"
    assert verify(instance, copy).returncode == 0
    assert blob_path(instance, blob) is None
    assert files_holding(instance.data, header) == []
    p = run_kura("files", "trash", "--data", str(instance.data), "--user", "rin", "--json")
    assert [json.loads(x)["path"] for x in p.stdout.splitlines()] == ["kept.txt"]


@pytest.mark.parametrize("args", [
    ("files",), ("files", "nope"), ("files", "trash", "--data", "x"),
    ("files", "versions", "--data", "x", "--user", "u"),
    ("files", "restore-version", "--data", "x", "--user", "u", "--path", "p"),
    ("verify-certificate",), ("verify-certificate", "f", "--data", "x", "--public-key", "k"),
])
def test_usage_errors(args):
    assert run_kura(*args).returncode == 2
