"""The Crypt4GH server key: `kura keys rotate` (online, re-encrypting headers only, resumable
after kill -9), `kura keys prune` (retired keys destroyed only when nothing needs them) and
`kura export` (a standard .c4gh file for the server key or any recipient, checked with an
independent decryptor)."""
import base64
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from nacl.public import PrivateKey

from conftest import run_kura
from test_audit import records
from test_dav import Dav, dav  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]
PYNACL = ROOT / "tests" / "tools" / "c4gh-pynacl.py"


def keys(instance, *args):
    return run_kura("keys", *args, "--data", str(instance.data), timeout=300)


def keys_json(instance, *args):
    proc = keys(instance, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def current_key(instance):
    (cur,) = [k for k in keys_json(instance, "list")["keys"] if k["state"] == "current"]
    return cur["key_id"]


def by_key(instance):
    con = sqlite3.connect(instance.data / "kura.db")
    return dict(con.execute("SELECT key_id, count(*) FROM versions GROUP BY key_id").fetchall())


def retired_file(instance, key_id):
    return instance.data / "keys" / "c4gh-retired" / (key_id[5:] + ".sec")


def decrypt(src, dst, *key_args):
    return subprocess.run([sys.executable, str(PYNACL), *key_args, str(src), str(dst)],
                          capture_output=True, text=True, timeout=120)


def upload_many(d, n):
    files = {f"/r{i:02d}.bin": os.urandom(1000 + 7919 * i) for i in range(n)}
    for path, data in files.items():
        assert d.req("PUT", path, data=data).status_code == 201
    return files


def all_readable(d, files):
    for path, data in files.items():
        r = d.req("GET", path)
        assert r.status_code == 200 and r.content == data, path


def test_rotation_killed_half_way_then_resumed(dav, tmp_path):
    """kill -9 of `kura keys rotate` after 12 of 24 headers: every file stays readable (the
    server holds both keys), new uploads already use the new key, fsck is clean; running
    rotate again finishes the job without making another key."""
    d, instance = dav["rw"], dav["instance"]
    files = upload_many(d, 24)
    (old,) = by_key(instance).keys()
    assert old == current_key(instance)
    blobs = sorted(p.name for p in (instance.data / "blobs").rglob("*") if p.is_file())

    proc = keys(instance, "rotate", "--batch", "4", "--test-kill-after", "10")
    assert proc.returncode == -9, (proc.returncode, proc.stderr)
    new = current_key(instance)
    assert new != old
    assert by_key(instance) == {old: 12, new: 12}
    ret = retired_file(instance, old)
    assert stat.S_IMODE(ret.stat().st_mode) == 0o600
    assert ret.read_text().startswith("-----BEGIN CRYPT4GH PRIVATE KEY-----")
    assert not list((instance.data / "keys").glob("*.next"))

    all_readable(d, files)
    assert d.req("PUT", "/after.bin", data=b"written after the new key").status_code == 201
    files["/after.bin"] = b"written after the new key"
    assert by_key(instance) == {old: 12, new: 13}  # the server switched before re-encryption
    proc = run_kura("fsck", "--data", str(instance.data), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # A header still under the retired key exports for the (new) server key.
    con = sqlite3.connect(instance.data / "kura.db")
    (path,) = con.execute("SELECT n.path FROM nodes n JOIN versions v ON v.id = n.version "
                          "WHERE v.key_id = ? ORDER BY v.id LIMIT 1", (old,)).fetchone()
    out = tmp_path / "old-header.c4gh"
    proc = run_kura("export", "--data", str(instance.data), "--user", "rin", "--path", path,
                    "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    p = decrypt(out, tmp_path / "plain", "--sk-file", str(instance.data / "keys" / "c4gh.sec"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "plain").read_bytes() == files["/" + path]

    res = keys_json(instance, "rotate")
    assert res == {"key_id": new, "resumed": True, "finished": True, "rewrapped": 12,
                   "failed": 0}
    assert by_key(instance) == {new: 25}
    assert current_key(instance) == new
    listed = {k["key_id"]: k for k in keys_json(instance, "list")["keys"]}
    assert listed[old]["state"] == "retired" and listed[old]["headers"] == 0
    assert listed[new]["headers"] == 25
    all_readable(d, files)
    # No blob was touched: the same objects, byte for byte.
    assert sorted(p.name for p in (instance.data / "blobs").rglob("*")
                  if p.is_file()) == sorted(blobs + [by_blob(instance, "after.bin")])

    dav["server"].stop()
    server2 = instance.serve()
    all_readable(Dav(server2, "rin", d.s.auth[1]), files)
    recs = [r for r in records(instance.data) if r["action"].startswith("cli.keys.")]
    assert [r["action"] for r in recs] == ["cli.keys.rotate.start", "cli.keys.rotate.start",
                                           "cli.keys.rotate.end"]
    assert recs[0]["detail"]["from"] == [old] and recs[0]["object"] == new
    assert recs[0]["detail"]["resumed"] is False
    assert recs[1]["detail"]["resumed"] is True and recs[1]["detail"]["from"] == [old]
    assert recs[2]["detail"] == {"rewrapped": 12, "failed": 0} and recs[2]["result"] == "ok"


def by_blob(instance, path):
    con = sqlite3.connect(instance.data / "kura.db")
    return con.execute("SELECT v.blob FROM versions v JOIN nodes n ON n.version = v.id "
                       "WHERE n.path = ?", (path,)).fetchone()[0]


def test_rotation_offline_stop_after_resume_and_rotate_again(dav):
    d, instance = dav["rw"], dav["instance"]
    files = upload_many(d, 7)
    password = d.s.auth[1]
    dav["server"].stop()
    old = current_key(instance)
    res = keys_json(instance, "rotate", "--batch", "2", "--stop-after", "3")
    assert res["finished"] is False and res["rewrapped"] == 3 and res["resumed"] is False
    new = res["key_id"]
    assert by_key(instance) == {old: 4, new: 3}
    res = keys_json(instance, "rotate", "--resume")
    assert res == {"key_id": new, "resumed": True, "finished": True, "rewrapped": 4,
                   "failed": 0}
    res = keys_json(instance, "rotate", "--resume")
    assert res == {"resumed": False, "key_id": new}
    # A second rotation: two retired keys, every file readable after a restart.
    third = keys_json(instance, "rotate")["key_id"]
    assert by_key(instance) == {third: 7}
    assert retired_file(instance, old).exists() and retired_file(instance, new).exists()
    server = instance.serve()
    all_readable(Dav(server, "rin", password), files)
    assert keys(instance, "rotate", "--bogus").returncode == 2
    assert keys(instance, "list", "--resume").returncode == 2


def c4gh_string(b):
    return len(b).to_bytes(2, "big") + b


def write_secret_key(path, sk):
    """An unencrypted c4gh-v1 private key file (crypt4gh.readthedocs.io, "Keys")."""
    blob = b"c4gh-v1" + c4gh_string(b"none") + c4gh_string(b"none") + c4gh_string(bytes(sk))
    path.write_text("-----BEGIN CRYPT4GH PRIVATE KEY-----\n" + base64.b64encode(blob).decode() +
                    "\n-----END CRYPT4GH PRIVATE KEY-----\n")
    os.chmod(path, 0o600)


def test_an_interrupted_install_stops_serve_until_rotate_finishes_it(dav):
    """As if rotate died between its two renames: c4gh.sec is the new key, c4gh.pub still the
    old one, c4gh.pub.next waiting. kura serve refuses with the remedy; rotate finishes the
    install and re-encrypts."""
    d, instance = dav["rw"], dav["instance"]
    assert d.req("PUT", "/x", data=b"x").status_code == 201
    password = d.s.auth[1]
    dav["server"].stop()
    old = current_key(instance)
    kdir = instance.data / "keys"
    (kdir / "c4gh-retired").mkdir(mode=0o700)
    shutil.copyfile(kdir / "c4gh.sec", retired_file(instance, old))
    os.chmod(retired_file(instance, old), 0o600)
    sk = PrivateKey.generate()
    write_secret_key(kdir / "c4gh.sec", sk)
    (kdir / "c4gh.pub.next").write_text(
        "-----BEGIN CRYPT4GH PUBLIC KEY-----\n" + base64.b64encode(bytes(sk.public_key)).decode()
        + "\n-----END CRYPT4GH PUBLIC KEY-----\n")
    new = "c4gh:" + hashlib.sha256(bytes(sk.public_key)).hexdigest()[:16]
    server = instance.serve(expect_ready=False)
    assert server.proc.wait(timeout=60) == 1
    assert "run kura keys rotate" in server.log()
    assert run_kura("fsck", "--data", str(instance.data)).returncode == 1
    res = keys_json(instance, "rotate")
    assert res == {"key_id": new, "resumed": True, "finished": True, "rewrapped": 1,
                   "failed": 0}
    assert not (kdir / "c4gh.pub.next").exists()
    server = instance.serve()
    assert Dav(server, "rin", password).req("GET", "/x").content == b"x"
    assert by_key(instance) == {new: 1}


def test_prune_destroys_only_keys_nothing_needs(dav):
    d, instance = dav["rw"], dav["instance"]
    files = upload_many(d, 3)
    old = current_key(instance)
    assert keys_json(instance, "rotate", "--stop-after", "1")["finished"] is False
    res = keys_json(instance, "prune", "--keep-days", "0")
    assert res == {"keys": [{"key_id": old, "state": "in use"}], "destroyed": 0}
    assert retired_file(instance, old).exists()
    assert keys_json(instance, "rotate")["finished"] is True
    res = keys_json(instance, "prune")  # retired today: the backups may still need it
    assert res == {"keys": [{"key_id": old, "state": "kept (retention)"}], "destroyed": 0}
    res = keys_json(instance, "prune", "--keep-days", "0")
    assert res == {"keys": [{"key_id": old, "state": "destroyed"}], "destroyed": 1}
    assert not retired_file(instance, old).exists()
    all_readable(d, files)
    assert keys_json(instance, "list")["keys"] == [
        {"key_id": current_key(instance), "state": "current", "retired_at": 0, "headers": 3}]
    (rec,) = [r for r in records(instance.data) if r["action"] == "cli.keys.prune"]
    assert rec["detail"] == {"keys": [old], "keep_days": 0}


def test_export_for_the_server_key_and_for_a_recipient(dav, tmp_path):
    d, instance = dav["rw"], dav["instance"]
    data = os.urandom(3 * 65536 + 4321)
    assert d.req("MKCOL", "/proj").status_code == 201
    assert d.req("PUT", "/proj/データ.bin", data=data).status_code == 201
    assert d.req("PUT", "/empty", data=b"").status_code == 201

    def export(path, out, *extra):
        return run_kura("export", "--data", str(instance.data), "--user", "rin", "--path", path,
                        "--out", str(out), *extra)

    server_sk = ["--sk-file", str(instance.data / "keys" / "c4gh.sec")]
    out = tmp_path / "server.c4gh"
    proc = export("proj/データ.bin", out)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    raw = out.read_bytes()
    assert raw[:8] == b"crypt4gh" and len(raw) == 124 + 4 * 28 + len(data)
    assert decrypt(out, tmp_path / "p1", *server_sk).returncode == 0
    assert (tmp_path / "p1").read_bytes() == data

    sk = PrivateKey.generate()
    pub = tmp_path / "recipient.pub"
    pub.write_text("-----BEGIN CRYPT4GH PUBLIC KEY-----\n" +
                   base64.b64encode(bytes(sk.public_key)).decode() +
                   "\n-----END CRYPT4GH PUBLIC KEY-----\n")
    out2 = tmp_path / "recipient.c4gh"
    proc = export("/proj/データ.bin", out2, "--recipient", str(pub))
    assert proc.returncode == 0, proc.stderr
    assert decrypt(out2, tmp_path / "p2", "--sk-hex", bytes(sk).hex()).returncode == 0
    assert (tmp_path / "p2").read_bytes() == data
    assert decrypt(out2, tmp_path / "p3", *server_sk).returncode == 1  # not for the server
    assert out2.read_bytes()[124:] == raw[124:]  # the same segments, a new header

    out3 = tmp_path / "empty.c4gh"
    assert export("empty", out3).returncode == 0
    assert decrypt(out3, tmp_path / "p4", *server_sk).returncode == 0
    assert (tmp_path / "p4").read_bytes() == b""

    # Refusals: an existing file is never replaced, no file for what does not exist.
    before = out.read_bytes()
    proc = export("proj/データ.bin", out)
    assert proc.returncode == 1 and "never replaced" in proc.stderr
    assert out.read_bytes() == before
    assert export("proj/none", tmp_path / "none.c4gh").returncode == 1
    assert export("proj", tmp_path / "dir.c4gh").returncode == 1
    assert export("../etc", tmp_path / "bad.c4gh").returncode == 1
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key\n")
    assert export("empty", tmp_path / "x.c4gh", "--recipient", str(bad)).returncode == 1
    assert run_kura("export", "--data", str(instance.data)).returncode == 2
    # A damaged file is not exported, and nothing partial is left behind.
    con = sqlite3.connect(instance.data / "kura.db")
    blob = by_blob(instance, "proj/データ.bin")
    p = instance.data / "blobs" / blob[:2] / blob[2:4] / blob
    os.chmod(p, 0o600)
    b = bytearray(p.read_bytes())
    b[-5] ^= 1
    p.write_bytes(bytes(b))
    assert export("proj/データ.bin", tmp_path / "damaged.c4gh").returncode == 1
    assert sorted(f.name for f in tmp_path.iterdir() if "damaged" in f.name) == []
    assert con.execute("SELECT corrupt_at FROM versions WHERE blob = ?", (blob,)).fetchone()[0]
    recs = [r for r in records(instance.data) if r["action"] == "cli.export"]
    assert len(recs) >= 4 and recs[0]["object"] == "rin"
    assert recs[1]["detail"]["server_key"] is False
    assert recs[1]["detail"]["recipient"].startswith("c4gh:")


def test_a_passphrase_protects_the_server_key(tmp_path):
    """kura init --c4gh-passphrase-file: keys/c4gh.sec is scrypt-encrypted; kura serve and the
    CLI read the passphrase from [keys] passphrase_file or from the systemd credential
    $CREDENTIALS_DIRECTORY/kura-c4gh-passphrase, never from the environment; a passphrase file
    open to others, or a missing one, stops kura before it serves."""
    from conftest import Instance, set_conf
    from test_dav import app_password
    from test_identity import add_user, enrol
    pw = tmp_path / "c4gh.pass"
    pw.write_text("a passphrase for the storehouse key\n")
    os.chmod(pw, 0o600)
    (tmp_path / "i").mkdir()
    inst = Instance(tmp_path / "i")
    try:
        inst.init("--c4gh-passphrase-file", str(pw))
        sec = (inst.data / "keys" / "c4gh.sec").read_text()
        assert "ENCRYPTED" in sec
        assert b"scrypt" in base64.b64decode("".join(sec.splitlines()[1:-1]))
        assert f"passphrase_file = {pw}" in (inst.data / "kura.conf").read_text()
        inst.set("password", "hash_memlimit_kib", "8192")
        inst.set("password", "hash_opslimit", "1")
        server = inst.serve()
        otp = add_user(inst, tmp_path, "rin")
        s, csrf, _ = enrol(server, "rin", otp, "a long river passphrase 2026")
        d = Dav(server, "rin", app_password(server, s, csrf, "c", "read-write"))
        assert d.req("PUT", "/x.bin", data=b"sealed").status_code == 201
        assert server.stop() == 0
        # A passphrase file others may read: refused, nothing served.
        os.chmod(pw, 0o644)
        proc = run_kura("serve", "--data", str(inst.data), "--listen", "127.0.0.1:1")
        assert proc.returncode != 0 and "0600" in proc.stderr, proc.stderr
        os.chmod(pw, 0o600)
        # The systemd credential instead of the configured file.
        set_conf(inst.data, "keys", "passphrase_file", "")
        creds = tmp_path / "creds"
        creds.mkdir(mode=0o700)
        shutil.copy(pw, creds / "kura-c4gh-passphrase")
        os.chmod(creds / "kura-c4gh-passphrase", 0o400)
        server = inst.serve(env={"CREDENTIALS_DIRECTORY": str(creds)})
        d2 = Dav(server, "rin", d.s.auth[1])
        assert d2.req("GET", "/x.bin").content == b"sealed"
        assert server.stop() == 0
        proc = run_kura("user", "list", "--data", str(inst.data))
        assert proc.returncode != 0  # no passphrase anywhere: the keyring cannot be opened
        (creds / "kura-c4gh-passphrase").unlink()
    finally:
        inst.cleanup()
