"""Rotating the audit key: the old key signs the handover, history still verifies (witnessed
checkpoints of the old key included), a leaked retired key cannot vouch for later history, and
an interrupted rotation is refused by serve and finished by running rotate-key again."""
import base64
import hashlib
import shutil
import subprocess

from conftest import run_kura
from test_audit import records, verify
from test_audit_ops import burst


def rotate(data):
    return run_kura("audit", "rotate-key", "--data", str(data))


def sign_note_with(key_pem, body, origin, tmp_path):
    """A C2SP signed note over body ("origin\\nsize\\nroot\\n") made with key_pem, as kura
    would have made it with that key."""
    key = tmp_path / "signing.key"
    key.write_bytes(key_pem)
    key.chmod(0o600)
    msg = tmp_path / "msg"
    msg.write_bytes(body.encode())
    sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in",
                          str(msg)], check=True, capture_output=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                          check=True, capture_output=True).stdout
    pk = spki[-32:]
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + pk).digest()[:4]
    return body + "\n\u2014 " + origin + " " + base64.b64encode(key_id + sig).decode() + "\n"


def test_rotation_keeps_history_verifiable(instance, tmp_path):
    instance.init()
    witness = tmp_path / "witness"
    instance.set("audit", "witness_file", str(witness))
    server = instance.serve()
    burst(server, 20)
    # Refused while a server runs: the rotation is written by the log's only writer.
    busy = rotate(instance.data)
    assert busy.returncode == 1 and "stop it first" in busy.stderr
    assert server.stop() == 0
    keys = instance.data / "keys"
    old_key, old_pub = (keys / "audit.key").read_bytes(), (keys / "audit.pub").read_bytes()
    old_vkey = run_kura("audit", "key", "--data", str(instance.data), check=True).stdout.strip()

    proc = rotate(instance.data)
    assert proc.returncode == 0, proc.stderr
    assert (keys / "audit.key").read_bytes() != old_key
    assert (keys / "audit.key").stat().st_mode & 0o777 == 0o600
    assert not list(keys.glob("*.next"))
    assert len((keys / "audit-retired.pub").read_text().splitlines()) == 1
    rot = [r for r in records(instance.data) if r["action"] == "audit.key"]
    assert len(rot) == 1 and rot[0]["actor"].startswith("cli:")
    assert set(rot[0]["detail"]) == {"old_key", "new_key", "new_vkey", "signature"}
    shown = run_kura("audit", "key", "--data", str(instance.data), check=True).stdout
    assert f"retired: {old_vkey}" in shown and shown.split("\n")[0] != old_vkey

    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep
    # The log goes on under the new key; the witness holds checkpoints of both keys.
    server = instance.serve()
    burst(server, 20)
    assert server.stop() == 0
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"] and rep["witnessed_checked"] > 2, rep
    # A second rotation: a chain of three keys.
    assert rotate(instance.data).returncode == 0
    assert len((keys / "audit-retired.pub").read_text().splitlines()) == 2
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep

    # Someone who kept the first (retired) key signs the current tree with it: refused.
    note = (instance.data / "audit" / "checkpoint").read_text().split("\n\n")[0] + "\n"
    origin = note.split("\n")[0]
    with open(witness, "a") as f:
        f.write(sign_note_with(old_key, note, origin, tmp_path))
    code, rep = verify(instance.data)
    assert code == 1 and "retired key" in rep["reason"], rep

    # Dropping the retired keys file does not make history verify with the new key alone.
    (keys / "audit-retired.pub").unlink()
    with open(witness, "w") as f:
        f.write("")
    code, rep = verify(instance.data)
    assert code == 1 and not rep["ok"], rep
    assert old_pub  # (the old public key file is what audit-retired.pub replaced)


def test_interrupted_rotation_is_refused_then_finished(instance, tmp_path):
    instance.init()
    instance.serve().stop()
    keys = instance.data / "keys"
    # Step 1 only (the new key written, nothing in the log): serve refuses; rotate-key starts
    # over.
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                    str(keys / "audit.key.next")], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(keys / "audit.key.next"), "-pubout", "-out",
                    str(keys / "audit.pub.next")], check=True, capture_output=True)
    server = instance.serve(expect_ready=False)
    assert server.proc.wait(timeout=60) == 1
    assert "rotation was interrupted" in server.log()
    assert rotate(instance.data).returncode == 0
    assert len([r for r in records(instance.data) if r["action"] == "audit.key"]) == 1
    assert not list(keys.glob("*.next"))
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep

    # Stopped inside step 4 (audit.key already new, audit.pub not yet): finished.
    retired = (keys / "audit-retired.pub").read_text()
    old_pub_pem = subprocess.run(
        ["openssl", "pkey", "-pubin", "-inform", "DER", "-pubout"],
        input=bytes.fromhex("302a300506032b6570032100") + base64.b64decode(
            retired.splitlines()[-1]), check=True, capture_output=True).stdout
    shutil.move(keys / "audit.pub", keys / "audit.pub.next")
    (keys / "audit.pub").write_bytes(old_pub_pem)
    assert rotate(instance.data).returncode == 0, "finishing the half-installed key"
    assert (keys / "audit-retired.pub").read_text() == retired  # not retired twice
    assert not list(keys.glob("*.next"))
    server = instance.serve()
    assert server.stop() == 0
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep


def test_retention_keeps_the_bundle_of_a_rotation(instance):
    """Payloads past retention go, but not a rotation record: verify follows the key chain
    through it."""
    from helpers import wait_until
    from test_audit import tile_path
    from test_audit_ops import YEAR_MS

    instance.init()
    assert rotate(instance.data).returncode == 0  # record 1 or so: in bundle 0
    server = instance.serve()
    burst(server, 600)
    assert server.stop() == 0
    audit = instance.data / "audit"
    server = instance.serve(env={"KURA_TEST_CLOCK_OFFSET_MS": str(6 * YEAR_MS)})
    wait_until(lambda: not (audit / tile_path("entries", 1)).exists(), 30,
               "the second bundle to be pruned")
    assert server.stop() == 0
    assert (audit / tile_path("entries", 0)).exists()  # holds the rotation
    pruned = [r for r in records(instance.data) if r["action"] == "audit.pruned"]
    assert len(pruned) == 1
    code, rep = verify(instance.data)
    assert code == 0 and rep["ok"], rep
