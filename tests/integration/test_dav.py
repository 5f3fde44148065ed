"""WebDAV under /dav through the real server: Basic authentication with app passwords only,
their scope, the personal space, uploads that are encrypted at rest, downloads that are checked
and never run in the browser, and the refusals that lose nothing.

Tests with real clients (litmus, rclone, cadaver, owncloudcmd) are in test_dav_clients.py."""
import hashlib
import os
import sqlite3

import pytest
import requests

from test_identity import add_user, enrol, fast, login, post

DAV = "/dav/home"
MiB = 1024 * 1024


class Dav:
    """A user with an app password, talking WebDAV."""

    def __init__(self, server, user, password):
        self.server = server
        self.s = server.session()
        self.s.auth = (user, password)

    def url(self, path):
        return self.server.url + DAV + path

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 120)
        return self.s.request(method, self.url(path), **kw)


def app_password(server, s, csrf, name, scope):
    r = post(s, server, "/api/v1/me/app-passwords", csrf, {"name": name, "scope": scope})
    assert r.status_code == 200, r.text
    return r.json()["password"]


@pytest.fixture
def dav(instance, tmp_path):
    server = fast(instance)
    otp = add_user(instance, tmp_path, "rin")
    s, csrf, _ = enrol(server, "rin", otp, "a long river passphrase 2026")
    rw = app_password(server, s, csrf, "laptop", "read-write")
    ro = app_password(server, s, csrf, "reader", "read")
    return {"server": server, "instance": instance, "rw": Dav(server, "rin", rw),
            "ro": Dav(server, "rin", ro), "session": s, "csrf": csrf, "tmp": tmp_path}


def test_basic_takes_app_passwords_only(dav):
    server = dav["server"]
    for auth in (None, ("rin", "a long river passphrase 2026"), ("rin", "x" * 32),
                 ("nobody", "y" * 32)):
        r = server.session().request("PROPFIND", server.url + DAV + "/", auth=auth,
                                     headers={"Depth": "0"}, timeout=30)
        assert r.status_code == 401, auth
        assert r.headers["WWW-Authenticate"].startswith("Basic realm=\"kura\"")
    r = dav["rw"].req("PROPFIND", "/", headers={"Depth": "0"})
    assert r.status_code == 207, r.text


def test_put_get_roundtrip_is_encrypted_at_rest(dav):
    d = dav["rw"]
    data = os.urandom(3 * 65536 + 1234)
    marker = b"PLAINTEXT-MARKER-" * 100
    data = marker + data
    r = d.req("PUT", "/report.bin", data=data)
    assert r.status_code == 201, r.text
    etag = r.headers["ETag"]
    r = d.req("GET", "/report.bin")
    assert r.status_code == 200 and r.content == data
    assert r.headers["ETag"] == etag
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert r.headers["OC-Checksum"] == "SHA256:" + hashlib.sha256(data).hexdigest()
    # Nothing under the data folder holds the plaintext.
    root = dav["instance"].data
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as fh:
                    assert marker[:64] not in fh.read(), p
    # Overwrite: 204, a new ETag.
    r = d.req("PUT", "/report.bin", data=b"second")
    assert r.status_code == 204 and r.headers["ETag"] != etag
    assert d.req("GET", "/report.bin").content == b"second"


def test_range_head_and_empty_files(dav):
    d = dav["rw"]
    data = bytes(i % 251 for i in range(200_000))
    assert d.req("PUT", "/r.bin", data=data).status_code == 201
    # Segment boundaries (64 KiB plaintext segments): the first byte, the last of the first
    # segment, the first of the second, a range across two, the very last byte.
    for first, last in ((0, 0), (65535, 65535), (65536, 65536), (65535, 65537),
                        (131071, 131072), (100_000, 199_999), (199_999, 199_999)):
        r = d.req("GET", "/r.bin", headers={"Range": f"bytes={first}-{last}"})
        assert r.status_code == 206, (first, last)
        assert r.content == data[first:last + 1]
        assert r.headers["Content-Range"] == f"bytes {first}-{last}/{len(data)}"
    r = d.req("GET", "/r.bin", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = d.req("GET", "/r.bin", headers={"Range": "bytes=200000-"})
    assert r.status_code == 416
    r = d.req("HEAD", "/r.bin")
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(data)
    assert r.content == b""
    assert d.req("PUT", "/empty", data=b"").status_code == 201
    r = d.req("GET", "/empty")
    assert r.status_code == 200 and r.content == b""


def test_app_password_scope_is_enforced(dav):
    """A read-only app password reads, and every change is refused before anything is stored."""
    rw, ro = dav["rw"], dav["ro"]
    assert rw.req("PUT", "/a.txt", data=b"alpha").status_code == 201
    assert ro.req("GET", "/a.txt").content == b"alpha"
    assert ro.req("PROPFIND", "/", headers={"Depth": "1"}).status_code == 207
    for method, path, kw in (("PUT", "/a.txt", {"data": b"changed"}),
                             ("PUT", "/new.txt", {"data": b"new"}),
                             ("MKCOL", "/dir", {}), ("DELETE", "/a.txt", {})):
        r = ro.req(method, path, **kw)
        assert r.status_code == 403, (method, r.text)
    assert rw.req("GET", "/a.txt").content == b"alpha"
    assert rw.req("GET", "/new.txt").status_code == 404
    assert rw.req("PROPFIND", "/dir", headers={"Depth": "0"}).status_code == 404


def test_folders_listing_and_delete(dav):
    d = dav["rw"]
    assert d.req("MKCOL", "/proj").status_code == 201
    assert d.req("MKCOL", "/proj").status_code == 405
    assert d.req("MKCOL", "/missing/child").status_code == 409
    assert d.req("PUT", "/missing/file", data=b"x").status_code == 409
    assert d.req("PUT", "/proj/データ.txt", data=b"nihongo").status_code == 201
    r = d.req("PROPFIND", "/proj", headers={"Depth": "1"})
    assert r.status_code == 207
    body = r.text
    assert "/dav/home/proj/" in body and "%E3%83%87%E3%83%BC%E3%82%BF.txt" in body
    assert "<d:collection/>" in body and "getcontentlength>7<" in body
    r = d.req("PROPFIND", "/proj", headers={"Depth": "infinity"})
    assert r.status_code == 403 and "propfind-finite-depth" in r.text
    # A folder's ETag changes when something below it changes.
    def etag_of(path):
        r = d.req("PROPFIND", path, headers={"Depth": "0"},
                  data='<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/>'
                       '</d:prop></d:propfind>')
        assert r.status_code == 207
        return r.text.split("getetag>")[1]
    before = etag_of("/proj")
    assert d.req("PUT", "/proj/more.txt", data=b"more").status_code == 201
    assert etag_of("/proj") != before
    assert d.req("DELETE", "/proj").status_code == 204
    assert d.req("GET", "/proj/データ.txt").status_code == 404
    assert d.req("DELETE", "/").status_code == 403


def test_bad_names_and_hostile_bodies(dav):
    d = dav["rw"]
    for name in ("/a\u202eexe.txt", "/trailing. ", "/x\u200by"):
        r = d.req("PUT", name, data=b"x")
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_name", name
    bomb = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>')
    r = d.req("PROPFIND", "/", headers={"Depth": "0"}, data=bomb)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_xml"
    r = d.req("PUT", "/c.txt", data=b"abc", headers={"Content-Range": "bytes 0-2/3"})
    assert r.status_code == 400
    assert d.req("GET", "/c.txt").status_code == 404


def test_checksums_and_preconditions_lose_nothing(dav):
    d = dav["rw"]
    body = b"checked content"
    good = hashlib.sha256(body).hexdigest()
    r = d.req("PUT", "/k.txt", data=body, headers={"OC-Checksum": "SHA256:" + "0" * 64})
    assert r.status_code == 400 and r.json()["error"]["code"] == "checksum_mismatch"
    assert d.req("GET", "/k.txt").status_code == 404
    r = d.req("PUT", "/k.txt", data=body, headers={"OC-Checksum": "SHA256:" + good})
    assert r.status_code == 201
    etag = r.headers["ETag"]
    sha1 = hashlib.sha1(b"v2").hexdigest()
    assert d.req("PUT", "/k.txt", data=b"v2", headers={"OC-Checksum": "SHA1:" + sha1,
                                                         "If-Match": etag}).status_code == 204
    r = d.req("PUT", "/k.txt", data=b"v3", headers={"If-Match": etag})
    assert r.status_code == 412
    r = d.req("PUT", "/k.txt", data=b"v3", headers={"If-None-Match": "*"})
    assert r.status_code == 412
    md5 = hashlib.md5(b"other").hexdigest()
    r = d.req("PUT", "/k.txt", data=b"v4", headers={"OC-Checksum": "MD5:" + md5})
    assert r.status_code == 400
    assert d.req("GET", "/k.txt").content == b"v2"


def test_large_uploads_are_checked_the_same(dav):
    """Past four segments an upload is encrypted and hashed on two worker threads
    (store/pipe.c): the client's SHA-1 / MD5 / SHA-256 are checked over every byte, in order,
    a mismatch stores nothing, and the stored SHA-256 is the file's. Sizes straddle segment
    and chunk boundaries."""
    d = dav["rw"]
    for size in (4 * 65536 + 1, 1048576, 3 * 1048576 + 12345):
        body = os.urandom(size)
        sums = {"SHA1": hashlib.sha1(body).hexdigest(), "MD5": hashlib.md5(body).hexdigest(),
                "SHA256": hashlib.sha256(body).hexdigest()}
        for alg, value in sums.items():
            wrong = value[:-1] + ("0" if value[-1] != "0" else "1")
            r = d.req("PUT", f"/big-{size}.bin", data=body,
                      headers={"OC-Checksum": f"{alg}:{wrong}"})
            assert r.status_code == 400, (size, alg)
            assert d.req("GET", f"/big-{size}.bin").status_code == 404
        for alg, value in sums.items():
            chunks = (body[i:i + 70000] for i in range(0, size, 70000))  # chunked, odd pieces
            r = d.req("PUT", f"/big-{size}.bin", data=chunks,
                      headers={"OC-Checksum": f"{alg}:{value}"})
            assert r.status_code in (201, 204), (size, alg, r.text)
        r = d.req("GET", f"/big-{size}.bin")
        assert r.content == body
        assert r.headers["OC-Checksum"] == "SHA256:" + sums["SHA256"]


def test_nobody_reads_another_persons_files(dav, tmp_path):
    """Not even an administrator: no standing privilege over data."""
    server, instance = dav["server"], dav["instance"]
    assert dav["rw"].req("PUT", "/secret.txt", data=b"rin only").status_code == 201
    from test_identity import admin_otp
    s, csrf, _ = enrol(server, "admin", admin_otp(instance), "a keeper of the storehouse keys 7")
    admin = Dav(server, "admin", app_password(server, s, csrf, "adm", "read-write"))
    assert admin.req("GET", "/secret.txt").status_code == 404  # the admin's own home
    r = admin.req("PROPFIND", "/", headers={"Depth": "1"})
    assert r.status_code == 207 and "secret.txt" not in r.text


def test_corruption_is_detected_and_never_served(dav):
    d = dav["rw"]
    data = os.urandom(5 * 65536)
    assert d.req("PUT", "/c.bin", data=data).status_code == 201
    db = sqlite3.connect(dav["instance"].data / "kura.db")
    blob = db.execute("SELECT blob FROM versions ORDER BY id DESC LIMIT 1").fetchone()[0]
    path = dav["instance"].data / "blobs" / blob[:2] / blob[2:4] / blob
    os.chmod(path, 0o600)
    raw = bytearray(path.read_bytes())
    raw[3 * 65564 + 100] ^= 1  # inside the fourth segment
    path.write_bytes(bytes(raw))
    got = 0
    try:
        with d.s.get(d.url("/c.bin"), stream=True, timeout=60) as r:
            for chunk in r.iter_content(65536):
                got += len(chunk)
    except requests.exceptions.RequestException:
        pass
    assert got <= 3 * 65536  # the damaged segment and what follows never left
    d.s.close()  # the aborted connection must not be reused
    # A range that avoids the damage still works; one that touches it fails.
    r = d.req("GET", "/c.bin", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == data[:100]
    flagged = db.execute("SELECT corrupt_at FROM versions ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert flagged


def read_streamed(d, path, headers=None):
    """The bytes of a GET until the server ends or aborts the response."""
    body = b""
    try:
        with d.s.get(d.url(path), headers=headers or {}, stream=True, timeout=60) as r:
            for chunk in r.iter_content(65536):
                body += chunk
    except requests.exceptions.RequestException:
        pass
    d.s.close()  # an aborted connection must not be reused
    return body


def test_large_reads_keep_the_integrity_rules(dav):
    """Reads past four segments are decrypted ahead on a worker thread (store/pipe.c); the
    rules stay: a misplaced segment stops a long range read at that segment, and a whole read
    whose SHA-256 does not match never releases the last segment."""
    d, instance = dav["rw"], dav["instance"]
    data = os.urandom(8 * 65536)
    assert d.req("PUT", "/long.bin", data=data).status_code == 201
    assert d.req("GET", "/long.bin").content == data  # through the worker
    r = d.req("GET", "/long.bin", headers={"Range": "bytes=7-500006"})
    assert r.status_code == 206 and r.content == data[7:500007]
    db = sqlite3.connect(instance.data / "kura.db")
    blob = db.execute("SELECT blob FROM versions ORDER BY id DESC LIMIT 1").fetchone()[0]
    path = instance.data / "blobs" / blob[:2] / blob[2:4] / blob
    os.chmod(path, 0o600)
    raw = path.read_bytes()
    cseg = 65536 + 28
    seg = [raw[i * cseg:(i + 1) * cseg] for i in range(8)]
    path.write_bytes(b"".join(seg[:5] + [seg[6], seg[5], seg[7]]))
    body = read_streamed(d, "/long.bin", {"Range": "bytes=7-500006"})
    assert len(body) <= 5 * 65536 - 7 and body == data[7:7 + len(body)]
    body = read_streamed(d, "/long.bin")
    assert len(body) <= 5 * 65536 and body == data[:len(body)]

    assert d.req("PUT", "/sum.bin", data=data).status_code == 201
    with db:
        db.execute("UPDATE versions SET sha256 = zeroblob(32) WHERE id = "
                   "(SELECT max(id) FROM versions)")
    body = read_streamed(d, "/sum.bin")
    assert len(body) <= 7 * 65536 and body == data[:len(body)]
    db.close()


def test_kill_9_mid_upload_leaves_the_old_version_and_no_debris(dav):
    """The server dies (SIGKILL) while 8 MiB of a new version stream in: after a restart the
    old content is intact, and neither the upload's temporary file nor its blob survives."""
    d, instance = dav["rw"], dav["instance"]
    assert d.req("PUT", "/keep.bin", data=b"old and whole").status_code == 201
    server = dav["server"]

    def body():
        for i in range(64):
            if i == 8:
                server.proc.kill()
                server.proc.wait(timeout=30)
            yield os.urandom(MiB)
    with pytest.raises(requests.exceptions.RequestException):
        d.req("PUT", "/keep.bin", data=body())
    tmp = instance.data / "tmp"
    assert any(tmp.iterdir())  # the dead upload's temporary file
    blobs_before = sorted(p.name for p in (instance.data / "blobs").rglob("*") if p.is_file())
    server2 = instance.serve()
    d2 = Dav(server2, "rin", d.s.auth[1])
    r = d2.req("GET", "/keep.bin")
    assert r.status_code == 200 and r.content == b"old and whole"
    assert not any(tmp.iterdir())
    blobs_after = sorted(p.name for p in (instance.data / "blobs").rglob("*") if p.is_file())
    assert blobs_after == blobs_before and len(blobs_after) == 1


def test_every_operation_is_audited_and_mass_downloads_alert(instance, tmp_path):
    """Each WebDAV request leaves one audit record with its action, object, actor and bytes; real
    downloads past [alerts] transfer_mb raise the mass_transfer alert."""
    from helpers import wait_until
    from test_alerts import alerts
    from test_audit import records
    server = fast(instance, ("alerts", "transfer_mb", "2"))
    otp = add_user(instance, tmp_path, "rin")
    s, csrf, _ = enrol(server, "rin", otp, "a long river passphrase 2026")
    d = Dav(server, "rin", app_password(server, s, csrf, "laptop", "read-write"))
    data = os.urandom(MiB)
    assert d.req("MKCOL", "/x").status_code == 201
    assert d.req("PUT", "/x/big.bin", data=data).status_code == 201
    for _ in range(3):
        assert d.req("GET", "/x/big.bin").content == data
    assert d.req("MOVE", "/x/big.bin",
                 headers={"Destination": server.url + DAV + "/x/moved.bin"}).status_code == 201
    assert d.req("DELETE", "/x/moved.bin").status_code == 204
    wait_until(lambda: ("mass_transfer", "user:rin") in
               {(a["rule"], a["key"]) for a in alerts(instance.data)}, 30, "the mass_transfer alert")
    assert server.stop() == 0
    recs = [r for r in records(instance.data) if r["action"].startswith("dav.")]
    acts = [r["action"] for r in recs]
    assert acts == ["dav.mkcol", "dav.put", "dav.get", "dav.get", "dav.get", "dav.move",
                    "dav.delete"], acts
    assert all(r["actor"] == "user:rin" and r["result"] == "ok" for r in recs)
    assert recs[1]["bytes"] == MiB and recs[2]["bytes"] == MiB
    assert recs[1]["object"] == "/dav/home/x/big.bin"


def test_quota_refuses_with_507_and_keeps_what_was_there(instance, tmp_path):
    """[store] quota_mb = 1: an upload announced beyond it is refused before its body, a chunked
    one as soon as it passes it; nothing is stored and the old content stays."""
    server = fast(instance, ("store", "quota_mb", "1"), ("store", "versions_keep", "0"))
    otp = add_user(instance, tmp_path, "rin")
    s, csrf, _ = enrol(server, "rin", otp, "a long river passphrase 2026")
    d = Dav(server, "rin", app_password(server, s, csrf, "laptop", "read-write"))
    assert d.req("PUT", "/a.bin", data=b"a" * 600_000).status_code == 201
    r = d.req("PUT", "/b.bin", data=b"b" * 600_000)
    assert r.status_code == 507 and r.json()["error"]["code"] == "insufficient_storage"

    def chunks():
        for _ in range(10):
            yield b"c" * 100_000
    r = d.req("PUT", "/c.bin", data=chunks())
    assert r.status_code == 507
    for p in ("/b.bin", "/c.bin"):
        assert d.req("GET", p).status_code == 404
    # Replacing a file within the quota works (versions_keep = 0 frees the old version).
    assert d.req("PUT", "/a.bin", data=b"z" * 300_000).status_code == 204
    r = d.req("PROPFIND", "/", headers={"Depth": "0"},
              data='<d:propfind xmlns:d="DAV:"><d:prop><d:quota-used-bytes/>'
                   '<d:quota-available-bytes/></d:prop></d:propfind>')
    assert "quota-used-bytes>300000<" in r.text and "quota-available-bytes>748576<" in r.text
    assert not any((instance.data / "tmp").iterdir())


def test_a_large_file_round_trips(dav):
    """1 GiB up and down again, streamed both ways; SHA-256 equal at both ends."""
    d = dav["rw"]
    size = 1024 * MiB
    block = os.urandom(MiB)

    def body():
        for i in range(size // MiB):
            yield block[i % 7:] + block[:i % 7]
    sent = hashlib.sha256()
    for c in body():
        sent.update(c)
    r = d.req("PUT", "/big.bin", data=body(), timeout=1200)
    assert r.status_code == 201, r.text
    got = hashlib.sha256()
    n = 0
    with d.s.get(d.url("/big.bin"), stream=True, timeout=1200) as r:
        assert r.status_code == 200 and int(r.headers["Content-Length"]) == size
        for chunk in r.iter_content(MiB):
            got.update(chunk)
            n += len(chunk)
    assert n == size and got.hexdigest() == sent.hexdigest()
    assert r.headers["OC-Checksum"] == "SHA256:" + sent.hexdigest()


def test_the_portal_session_works_with_its_csrf_token(dav):
    """The browser's session cookie reaches /dav too: reads as is, changes only with the session's
    X-CSRF-Token; an enrolment session (first login) reaches nothing."""
    server, s, csrf = dav["server"], dav["session"], dav["csrf"]
    url = server.url + DAV
    r = s.request("PROPFIND", url + "/", headers={"Depth": "0"}, timeout=30)
    assert r.status_code == 207, r.text
    r = s.put(url + "/via-portal.txt", data=b"x", timeout=30)
    assert r.status_code == 403
    r = s.put(url + "/via-portal.txt", data=b"x", headers={"X-CSRF-Token": "wrong" * 9}, timeout=30)
    assert r.status_code == 403
    r = s.put(url + "/via-portal.txt", data=b"portal", headers={"X-CSRF-Token": csrf}, timeout=30)
    assert r.status_code == 201, r.text
    assert s.get(url + "/via-portal.txt", timeout=30).content == b"portal"
    fresh = add_user(dav["instance"], dav["tmp"], "kai")
    k, r = login(server, "kai", fresh)
    assert r.json()["kind"] == "enrolment"
    r = k.request("PROPFIND", url + "/", headers={"Depth": "0"}, timeout=30)
    assert r.status_code == 403


def test_destination_must_stay_on_this_server_and_inside_the_space(dav):
    d, server = dav["rw"], dav["server"]
    assert d.req("MKCOL", "/a").status_code == 201
    assert d.req("PUT", "/a/f.txt", data=b"f").status_code == 201
    here = server.url + DAV
    for dest, status in ((f"https://evil.example{DAV}/x", 403),   # another origin
                         (f"https://user:pw@localhost:{server.port}{DAV}/x", 400),  # userinfo
                         (server.url + "/dav/other/x", 403),         # outside the space
                         (server.url + "/api/v1/me", 403),
                         (here + "/a/../../etc", 400),               # traversal, decoded
                         (here + "/a/%00x", 400),
                         (here + "/a/sub", 403)):                    # a folder into itself
        r = d.req("MOVE", "/a", headers={"Destination": dest})
        assert r.status_code == status, (dest, r.status_code, r.text)
    r = d.req("COPY", "/a", headers={"Destination": here + "/b", "Depth": "1"})
    assert r.status_code == 400
    r = d.req("MOVE", "/a", headers={"Destination": here + "/b", "Depth": "0"})
    assert r.status_code == 400
    assert d.req("MOVE", "/a/f.txt", headers={"Destination": here + "/a/f.txt"}).status_code == 403
    assert d.req("GET", "/a/f.txt").content == b"f"  # nothing moved
    r = d.req("MOVE", "/a", headers={"Destination": DAV + "/b"})  # path-absolute, as ownCloud sends
    assert r.status_code == 201 and d.req("GET", "/b/f.txt").content == b"f"
