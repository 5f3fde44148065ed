"""kura's audit log checked by tools kura did not write.

tests/audit-check/main.go verifies the log with Go's golang.org/x/mod/sumdb/tlog (RFC 6962
hashing, tiles, inclusion and consistency proofs) and golang.org/x/mod/sumdb/note (signed
notes), from Debian's golang-go and golang-golang-x-mod-dev in GOPATH mode, offline. Here it is
built once per session and run on a real log: the tree against the signed checkpoint, evidence
bundles of `kura audit prove`, and proofs of `kura audit consistency`; then on tampered copies,
each of which must fail.
"""
import base64
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import Instance, run_kura
from helpers import SOURCE_ROOT, request_bytes, send_raw, wait_until

CHECKER_SRC = SOURCE_ROOT / "tests" / "audit-check" / "main.go"
GOPATH = "/usr/share/gocode"  # Debian's Go sources (golang-golang-x-mod-dev)
TLOG_SRC = Path(GOPATH) / "src" / "golang.org" / "x" / "mod" / "sumdb" / "tlog"
REQUESTS = 600  # two full entry bundles and a partial one


def tile_path(level, n, width=0):
    """C2SP tile path: tile/<L>/<N>[.p/<W>], N in groups of three digits, x-prefixed."""
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    parts = [("x%03d" % g) for g in reversed(groups[1:])] + ["%03d" % groups[0]]
    return f"tile/{level}/" + "/".join(parts) + (f".p/{width}" if width else "")


def bundle_records(data):
    out, off = [], 0
    while off + 2 <= len(data):
        n = struct.unpack(">H", data[off:off + 2])[0]
        if n == 0 or off + 2 + n > len(data):
            break
        out.append(data[off + 2:off + 2 + n])
        off += 2 + n
    return out


# ---- the checker -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def audit_check(tmp_path_factory):
    """Builds tests/audit-check once; a missing Go toolchain is a failure, not a skip."""
    go = shutil.which("go") or ("/usr/bin/go" if os.path.exists("/usr/bin/go") else None)
    if go is None:
        pytest.fail("the Go toolchain is missing: install golang-go and golang-golang-x-mod-dev "
                    "(scripts/deps.sh test)", pytrace=False)
    if not TLOG_SRC.is_dir():
        pytest.fail(f"{TLOG_SRC} is missing: install golang-golang-x-mod-dev "
                    "(scripts/deps.sh test)", pytrace=False)
    out = tmp_path_factory.mktemp("audit-check")
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOCACHE=str(out / "cache"),
               HOME=str(out), GOFLAGS="", GOPROXY="off", CGO_ENABLED="0")
    binary = out / "audit-check"
    proc = subprocess.run(["go", "build", "-o", str(binary), str(CHECKER_SRC)], env=env,
                          capture_output=True, text=True, timeout=600,
                          executable=go)
    assert proc.returncode == 0, f"go build of {CHECKER_SRC} failed:\n{proc.stdout}{proc.stderr}"
    return binary


def check(audit_check, *args):
    """Runs the checker; returns (exit code, stdout + stderr)."""
    proc = subprocess.run([str(audit_check), *map(str, args)], capture_output=True, text=True,
                          timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def ok(audit_check, *args):
    code, out = check(audit_check, *args)
    assert code == 0, f"audit-check {' '.join(map(str, args))} failed ({code}):\n{out}"
    return out


def fails(audit_check, *args, reason=None):
    code, out = check(audit_check, *args)
    assert code == 1, f"audit-check {' '.join(map(str, args))} should fail, got {code}:\n{out}"
    assert "FAIL" in out, out
    if reason:
        assert re.search(reason, out), f"expected /{reason}/ in:\n{out}"
    return out


# ---- a real log ------------------------------------------------------------------------------

def checkpoint_size(path):
    return int(Path(path).read_text().split("\n")[1])


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """A stopped server's log of ~600 records, with an early and a mid checkpoint kept aside."""
    root = tmp_path_factory.mktemp("audit-go")
    inst = Instance(root).init()
    try:
        server = inst.serve()
        audit = inst.data / "audit"
        shutil.copy(audit / "checkpoint", root / "early")
        early = checkpoint_size(root / "early")

        def burst(n):
            with ThreadPoolExecutor(max_workers=4) as pool:
                resps = list(pool.map(lambda _: send_raw(server.port, request_bytes(
                    server.port, "GET", "/_test/whoami")), range(n)))
            assert all(r.status == 200 for r in resps)

        burst(150)
        # A checkpoint is published at most about once a second: wait for one past the burst.
        wait_until(lambda: checkpoint_size(audit / "checkpoint") >= early + 150, 30,
                   "a checkpoint covering the first burst")
        shutil.copy(audit / "checkpoint", root / "mid")
        burst(REQUESTS - 150)
        assert server.stop() == 0
    finally:
        inst.cleanup()
    inst.vkey = run_kura("audit", "key", "--data", str(inst.data), check=True).stdout.strip()
    return inst


def copy_log(log, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(log.data, data, symlinks=True)
    return data


@pytest.fixture(scope="module")
def evidence(log, tmp_path_factory):
    """Evidence bundles from a working copy (each `kura audit prove` appends a record):
    record 0, one inside the second full bundle, and the last one, in the partial bundle."""
    work = tmp_path_factory.mktemp("audit-go-evidence") / "data"
    shutil.copytree(log.data, work, symlinks=True)
    size = checkpoint_size(work / "audit" / "checkpoint")
    assert size > 2 * 256 and size % 256 != 0, size
    out = {}
    for name, index in [("first", 0), ("full_bundle", 256 + 77), ("partial_bundle", size - 1)]:
        path = work.parent / f"{name}.json"
        run_kura("audit", "prove", "--data", str(work), "--index", str(index), "--out",
                 str(path), check=True)
        out[name] = path
    out["work"] = work
    return out


def flip_root(note):
    """The note with one bit of its root hash changed (the signature left as it was)."""
    lines = note.split("\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[0] ^= 0x01
    lines[2] = base64.b64encode(bytes(root)).decode()
    return "\n".join(lines)


def flip_b64(s, i=0):
    b = bytearray(base64.b64decode(s))
    b[i] ^= 0x80
    return base64.b64encode(bytes(b)).decode()


# ---- tree ------------------------------------------------------------------------------------

def test_tree(audit_check, log, tmp_path):
    data = copy_log(log, tmp_path)
    note = (data / "audit" / "checkpoint").read_text()
    size, root = note.split("\n")[1:3]
    out = ok(audit_check, "tree", "--dir", data / "audit", "--vkey", log.vkey)
    assert f"ok size={size} root={root}" in out
    assert int(size) > REQUESTS and int(size) % 256 != 0
    # The layout the checker read: full tiles and bundles, the checkpoint's partial ones.
    audit = data / "audit"
    w = int(size) % 256
    for p in [tile_path(0, 0), tile_path(0, 1), tile_path(0, 2, w),
              tile_path(1, 0, int(size) // 256), tile_path("entries", 0),
              tile_path("entries", 2, w)]:
        assert (audit / p).is_file(), p


def test_tree_after_cli_records(audit_check, evidence, log):
    """The CLI's own records (cli.audit.prove, written without a server) keep the tree valid."""
    out = ok(audit_check, "tree", "--dir", evidence["work"] / "audit", "--vkey", log.vkey)
    size = checkpoint_size(evidence["work"] / "audit" / "checkpoint")
    assert f"ok size={size} " in out


def published_notes(data):
    """Every checkpoint kura published, from audit/checkpoints."""
    text = (Path(data) / "audit" / "checkpoints").read_text()
    notes = re.findall(r"(?s)(.*?\n\n(?:\u2014 [^\n]*\n)+)", text)
    assert notes and "".join(notes) == text, "cannot split audit/checkpoints into notes"
    return notes


def test_tree_of_every_published_checkpoint(audit_check, log, tmp_path):
    """Each checkpoint kura ever published matches the tree of its size. Older trees need
    partial tiles kura no longer keeps: they are cut from wider ones (--fallback any)."""
    data = copy_log(log, tmp_path)
    for i, note in enumerate(published_notes(data)):
        cp = tmp_path / f"cp{i}"
        cp.write_text(note)
        size, root = note.split("\n")[1:3]
        out = ok(audit_check, "tree", "--dir", data / "audit", "--vkey", log.vkey,
                 "--checkpoint", cp, "--fallback", "any")
        assert f"ok size={size} root={root}" in out


def test_tree_of_every_published_checkpoint_c2sp(audit_check, log, tmp_path):
    """The same with only the fallback C2SP promises to work: the full tile."""
    data = copy_log(log, tmp_path)
    failures = []
    for i, note in enumerate(published_notes(data)):
        cp = tmp_path / f"cp{i}"
        cp.write_text(note)
        code, out = check(audit_check, "tree", "--dir", data / "audit", "--vkey", log.vkey,
                          "--checkpoint", cp, "--fallback", "full")
        if code != 0:
            failures.append(out.strip())
    assert not failures, "\n".join(failures)


def test_tree_flipped_root_fails(audit_check, log, tmp_path):
    data = copy_log(log, tmp_path)
    cp = data / "audit" / "checkpoint"
    cp.write_text(flip_root(cp.read_text()))
    fails(audit_check, "tree", "--dir", data / "audit", "--vkey", log.vkey,
          reason="note.Open: .*invalid signature")


def test_tree_wrong_key_fails(audit_check, log, tmp_path):
    other = tmp_path / "other"
    run_kura("init", "--data", str(other), "--admin", "x", check=True)
    vkey = run_kura("audit", "key", "--data", str(other), check=True).stdout.strip()
    data = copy_log(log, tmp_path)
    fails(audit_check, "tree", "--dir", data / "audit", "--vkey", vkey,
          reason="note.Open: note has no verifiable signatures")


def test_tree_truncated_entry_bundle_fails(audit_check, log, tmp_path):
    data = copy_log(log, tmp_path)
    p = data / "audit" / tile_path("entries", 0)
    p.write_bytes(p.read_bytes()[:-10])
    fails(audit_check, "tree", "--dir", data / "audit", "--vkey", log.vkey,
          reason=r"tile/entries/000: truncated")


def test_tree_truncated_partial_bundle_fails(audit_check, log, tmp_path):
    data = copy_log(log, tmp_path)
    size = checkpoint_size(data / "audit" / "checkpoint")
    p = data / "audit" / tile_path("entries", size // 256, size % 256)
    p.write_bytes(p.read_bytes()[:-1])
    fails(audit_check, "tree", "--dir", data / "audit", "--vkey", log.vkey, reason="truncated")


def test_tree_edited_record_fails(audit_check, log, tmp_path):
    data = copy_log(log, tmp_path)
    p = data / "audit" / tile_path("entries", 1)
    b = bytearray(p.read_bytes())
    i = b.index(b'"anonymous"')
    b[i + 1] = ord("A")
    p.write_bytes(bytes(b))
    index = 256 + len(bundle_records(bytes(b[:i])))
    fails(audit_check, "tree", "--dir", data / "audit", "--vkey", log.vkey,
          reason=rf"record {index}: leaf hash .* differs from tile/0/001")


def test_tree_edited_tile_fails(audit_check, log, tmp_path):
    data = copy_log(log, tmp_path)
    p = data / "audit" / tile_path(0, 0)
    b = bytearray(p.read_bytes())
    b[32 * 5] ^= 0x01
    p.write_bytes(bytes(b))
    fails(audit_check, "tree", "--dir", data / "audit", "--vkey", log.vkey,
          reason="inconsistent tile|record 5")


def test_tree_missing_partial_tile_fails(audit_check, log, tmp_path):
    data = copy_log(log, tmp_path)
    size = checkpoint_size(data / "audit" / "checkpoint")
    (data / "audit" / tile_path(0, size // 256, size % 256)).unlink()
    fails(audit_check, "tree", "--dir", data / "audit", "--vkey", log.vkey,
          reason="no such file")


# ---- inclusion proofs ------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["first", "full_bundle", "partial_bundle"])
def test_proof(audit_check, evidence, log, which):
    bundle = evidence[which]
    ev = json.loads(bundle.read_text())
    # Offline, with only the bundle (and its own vkey) ...
    out = ok(audit_check, "proof", "--bundle", bundle)
    assert f"ok index={ev['index']} size={ev['tree_size']} " in out
    # ... with the auditor's trusted key, and compared element by element with the proof
    # tlog.ProveRecord builds from the log's tiles (same elements, same order).
    ok(audit_check, "proof", "--bundle", bundle, "--vkey", log.vkey,
       "--dir", evidence["work"] / "audit")
    if which == "partial_bundle":
        assert ev["index"] // 256 == ev["tree_size"] // 256 and ev["tree_size"] % 256 != 0
    if which == "full_bundle":
        assert ev["index"] // 256 < ev["tree_size"] // 256


def tampered(evidence, tmp_path, fn, which="full_bundle"):
    ev = json.loads(evidence[which].read_text())
    fn(ev)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(ev))
    return path


def test_proof_record_changed_fails(audit_check, evidence, tmp_path):
    def edit(ev):
        ev["record"] = ev["record"].replace('"anonymous"', '"Anonymous"')
    fails(audit_check, "proof", "--bundle", tampered(evidence, tmp_path, edit),
          reason="record hashes to .* leaf_hash says")


def test_proof_record_and_leaf_hash_changed_fails(audit_check, evidence, tmp_path):
    def edit(ev):
        ev["record"] = ev["record"].replace('"anonymous"', '"Anonymous"')
        leaf = hashlib.sha256(b"\x00" + ev["record"].encode()).digest()
        ev["leaf_hash"] = base64.b64encode(leaf).decode()
    fails(audit_check, "proof", "--bundle", tampered(evidence, tmp_path, edit),
          reason="tlog.CheckRecord.*invalid transparency proof")


@pytest.mark.parametrize("element", [0, -1])
def test_proof_element_changed_fails(audit_check, evidence, tmp_path, element):
    def edit(ev):
        ev["inclusion_proof"][element] = flip_b64(ev["inclusion_proof"][element], 31)
    fails(audit_check, "proof", "--bundle", tampered(evidence, tmp_path, edit),
          reason="tlog.CheckRecord.*invalid transparency proof")


def test_proof_element_dropped_fails(audit_check, evidence, tmp_path):
    fails(audit_check, "proof", "--bundle",
          tampered(evidence, tmp_path, lambda ev: ev["inclusion_proof"].pop()),
          reason="tlog.CheckRecord")


def test_proof_reversed_is_named(audit_check, evidence, tmp_path):
    """A proof in the other order fails, and the checker says which order would have worked."""
    fails(audit_check, "proof", "--bundle",
          tampered(evidence, tmp_path, lambda ev: ev["inclusion_proof"].reverse()),
          reason="reverse order")


@pytest.mark.parametrize("delta", [1, -1])
def test_proof_wrong_index_fails(audit_check, evidence, tmp_path, delta):
    def edit(ev):
        ev["index"] += delta
    fails(audit_check, "proof", "--bundle", tampered(evidence, tmp_path, edit),
          reason="tlog.CheckRecord.*invalid transparency proof")


def test_proof_flipped_checkpoint_root_fails(audit_check, evidence, tmp_path):
    def edit(ev):
        ev["checkpoint"] = flip_root(ev["checkpoint"])
    fails(audit_check, "proof", "--bundle", tampered(evidence, tmp_path, edit),
          reason="note.Open: .*invalid signature")


def test_proof_other_key_fails(audit_check, evidence, log, tmp_path):
    """A bundle re-signed by someone else's key checks only against that key: an auditor pins
    the log's key with --vkey."""
    other = tmp_path / "other"
    run_kura("init", "--data", str(other), "--admin", "x", check=True)
    vkey = run_kura("audit", "key", "--data", str(other), check=True).stdout.strip()
    fails(audit_check, "proof", "--bundle", evidence["first"], "--vkey", vkey,
          reason="is not the trusted key")

    def edit(ev):
        ev["vkey"] = vkey
    fails(audit_check, "proof", "--bundle", tampered(evidence, tmp_path, edit, "first"),
          reason="note.Open: note has no verifiable signatures")


# ---- consistency proofs ----------------------------------------------------------------------

def consistency(log, tmp_path, old, new=None):
    data = copy_log(log, tmp_path) if not (tmp_path / "data").exists() else tmp_path / "data"
    args = ["audit", "consistency", "--data", str(data), "--old", str(old)]
    if new:
        args += ["--new", str(new)]
    out = tmp_path / f"consistency-{len(list(tmp_path.glob('consistency-*')))}.json"
    run_kura(*args, "--out", str(out), check=True)
    return out, data


@pytest.mark.parametrize("old", ["early", "mid", "same"])
def test_consistency(audit_check, log, tmp_path, old):
    if old == "same":  # a tree is consistent with itself: an empty proof
        (tmp_path / "same").write_text((log.data / "audit" / "checkpoint").read_text())
        proof, data = consistency(log, tmp_path, tmp_path / "same", tmp_path / "same")
        doc = json.loads(proof.read_text())
        assert doc["old_size"] == doc["new_size"] and doc["consistency_proof"] == []
    else:
        proof, data = consistency(log, tmp_path, log.root / old)
        doc = json.loads(proof.read_text())
        assert doc["old_size"] == checkpoint_size(log.root / old) < doc["new_size"]
    out = ok(audit_check, "consistency", "--proof", proof, "--vkey", log.vkey)
    assert f"ok old_size={doc['old_size']} new_size={doc['new_size']} " in out
    # Element by element what tlog.ProveTree builds from the tiles.
    ok(audit_check, "consistency", "--proof", proof, "--vkey", log.vkey, "--dir", data / "audit")


def test_consistency_every_published_checkpoint(audit_check, log, tmp_path):
    """From every checkpoint in audit/checkpoints (sizes of every shape) to the final one."""
    data = copy_log(log, tmp_path)
    notes = published_notes(data)
    final = tmp_path / "final"
    final.write_text((data / "audit" / "checkpoint").read_text())
    assert len(notes) >= 3
    sizes = set()
    for i, note in enumerate(notes):
        old = tmp_path / f"old{i}"
        old.write_text(note)
        sizes.add(checkpoint_size(old))
        out = tmp_path / f"c{i}.json"
        run_kura("audit", "consistency", "--data", str(data), "--old", str(old), "--new",
                 str(final), "--out", str(out), check=True)
        ok(audit_check, "consistency", "--proof", out, "--vkey", log.vkey, "--dir",
           data / "audit")
    assert any(s & (s - 1) for s in sizes), sizes  # some old size is not a power of two


def tampered_consistency(log, tmp_path, fn):
    proof, _ = consistency(log, tmp_path, log.root / "mid")
    doc = json.loads(proof.read_text())
    fn(doc)
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(doc))
    return path


def test_consistency_flipped_root_fails(audit_check, log, tmp_path):
    for key in ["old_checkpoint", "new_checkpoint"]:
        def edit(doc):
            doc[key] = flip_root(doc[key])
        fails(audit_check, "consistency", "--proof", tampered_consistency(log, tmp_path, edit),
              "--vkey", log.vkey, reason=rf"{key}: note.Open: .*invalid signature")


def test_consistency_element_changed_fails(audit_check, log, tmp_path):
    def edit(doc):
        doc["consistency_proof"][0] = flip_b64(doc["consistency_proof"][0], 7)
    fails(audit_check, "consistency", "--proof", tampered_consistency(log, tmp_path, edit),
          "--vkey", log.vkey, reason="tlog.CheckTree.*invalid transparency proof")


def test_consistency_wrong_old_checkpoint_fails(audit_check, log, tmp_path):
    """The early checkpoint in place of the mid one: validly signed, but not what was proven."""
    def edit(doc):
        doc["old_checkpoint"] = (log.root / "early").read_text()
        doc["old_size"] = checkpoint_size(log.root / "early")
    fails(audit_check, "consistency", "--proof", tampered_consistency(log, tmp_path, edit),
          "--vkey", log.vkey, reason="tlog.CheckTree")
