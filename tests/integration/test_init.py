"""`kura init`, `kura --version`, `kura help`: what a new data folder contains, and the folders
init must refuse without touching them."""
import os
import pwd
import sqlite3
import stat
from pathlib import Path

from conftest import run_kura

SECRET_KEYS = ["c4gh.sec", "sign.key", "audit.key", "tls.key", "pepper"]
PUBLIC_KEYS = ["c4gh.pub", "sign.pub", "audit.pub", "tls.crt"]


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def snapshot(root):
    """Every path under root with its mode, size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            out[str(p)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    st = os.lstat(root)
    out[str(root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def test_init_creates_a_complete_private_folder(instance):
    instance.init()
    data = instance.data
    assert mode(data) == 0o700
    assert mode(data / "keys") == 0o700
    for name in SECRET_KEYS:
        assert mode(data / "keys" / name) == 0o600, name
    for name in PUBLIC_KEYS:
        assert mode(data / "keys" / name) == 0o644, name
    for name in ["kura.conf", "kura.db", "install-id"]:
        assert mode(data / name) == 0o600, name
    assert not (data / ".kura-init").exists()
    assert "BEGIN CRYPT4GH PRIVATE KEY" in (data / "keys" / "c4gh.sec").read_text()
    assert "BEGIN PRIVATE KEY" in (data / "keys" / "sign.key").read_text()
    assert "BEGIN CERTIFICATE" in (data / "keys" / "tls.crt").read_text()
    install_id = (data / "install-id").read_text().strip()
    assert len(install_id) == 36 and install_id[14] == "4"


def test_init_config_lists_every_key_with_its_default(instance):
    instance.init()
    defaults = run_kura("config", "defaults", check=True).stdout
    written = (instance.data / "kura.conf").read_text()
    # The fixture changed public_url for its port; everything else is the default text.
    norm = [l for l in written.splitlines() if not l.startswith("public_url")]
    assert norm == [l for l in defaults.splitlines() if not l.startswith("public_url")]
    keys = [l.split("=")[0].strip() for l in defaults.splitlines()
            if l and l[0] not in "#[" and "=" in l]
    assert len(keys) >= 25
    # Each key has a one-line comment right above it.
    lines = defaults.splitlines()
    for i, l in enumerate(lines):
        if l and l[0] not in "#[" and "=" in l:
            assert lines[i - 1].startswith("# "), l


def test_init_database_has_schema_and_admin(instance):
    instance.init()
    otp = instance.otp_file.read_text().strip()
    assert mode(instance.otp_file) == 0o600
    assert len(otp) == 20 and not set(otp) & set("0O1lI")
    db = sqlite3.connect(instance.data / "kura.db")
    assert db.execute("select max(version) from schema_version").fetchone()[0] == 9
    row = db.execute("select status, must_change_password, password_hash from accounts "
                     "where id = 'admin'").fetchone()
    assert row[0] == "active" and row[1] == 1
    assert row[2].startswith("$argon2id$") and otp not in row[2]
    roles = {r[0] for r in db.execute("select role from account_roles where account_id='admin'")}
    assert roles == {"admin", "user"}
    install = dict(db.execute("select key, value from install"))
    assert install["install_id"] == (instance.data / "install-id").read_text().strip()
    # The one-time password appears nowhere else in the folder.
    for p in instance.data.rglob("*"):
        if p.is_file():
            assert otp.encode() not in p.read_bytes(), p


def test_init_prints_password_once_without_file(tmp_path):
    proc = run_kura("init", "--data", str(tmp_path / "d"), "--admin", "alice", check=True)
    assert "first administrator: alice" in proc.stdout
    line = [l for l in proc.stdout.splitlines() if "one-time password" in l][0]
    assert len(line.rsplit(" ", 1)[1]) == 20


def test_init_default_admin_is_os_user(tmp_path):
    run_kura("init", "--data", str(tmp_path / "d"), check=True)
    me = pwd.getpwuid(os.getuid()).pw_name
    db = sqlite3.connect(tmp_path / "d" / "kura.db")
    assert db.execute("select id from accounts").fetchall() == [(me,)]


def test_init_refuses_foreign_folder_touching_nothing(tmp_path):
    target = tmp_path / "precious"
    target.mkdir(mode=0o755)
    (target / "notes.txt").write_text("do not touch")
    (target / "sub").mkdir()
    before = snapshot(target)
    proc = run_kura("init", "--data", str(target))
    assert proc.returncode == 1
    assert "not empty and not a kura data folder" in proc.stderr
    assert snapshot(target) == before


def test_init_refuses_existing_kura_folder(instance):
    instance.init()
    before = snapshot(instance.data)
    proc = run_kura("init", "--data", str(instance.data), "--admin", "other")
    assert proc.returncode == 1
    assert "already a kura data folder" in proc.stderr
    assert snapshot(instance.data) == before


def test_init_accepts_an_empty_existing_folder(tmp_path):
    target = tmp_path / "empty"
    target.mkdir(mode=0o755)
    run_kura("init", "--data", str(target), "--admin", "bob", check=True)
    assert mode(target) == 0o700


def test_init_profiles(tmp_path):
    for profile in ["kura-default", "nist", "mhlw6-a", "mhlw6-b", "mhlw6-c", "nbdc", "ccat",
                    "iso27001", "kiyosu"]:
        d = tmp_path / profile
        run_kura("init", "--data", str(d), "--admin", "a", "--profile", profile, check=True)
        assert f"\nprofile = {profile}\n" in (d / "kura.conf").read_text()
    proc = run_kura("init", "--data", str(tmp_path / "bad"), "--profile", "weak")
    assert proc.returncode == 2
    assert "one of kura-default, nist" in proc.stderr
    assert not (tmp_path / "bad").exists()


def test_init_rejects_bad_admin_ids(tmp_path):
    for bad in ["", "Upper", "a/b", "..", "-x", "a b", "x" * 65, "\u8535"]:
        proc = run_kura("init", "--data", str(tmp_path / "d"), "--admin", bad)
        assert proc.returncode == 2, bad
        assert "not a valid account ID" in proc.stderr
    assert not (tmp_path / "d").exists()


def test_init_failure_leaves_folder_as_found(tmp_path):
    existing = tmp_path / "otp"
    existing.write_text("mine")
    proc = run_kura("init", "--data", str(tmp_path / "d"), "--admin", "a",
                    "--admin-password-file", str(existing))
    assert proc.returncode == 1
    assert "must not exist" in proc.stderr
    assert existing.read_text() == "mine"
    assert not (tmp_path / "d").exists()


def test_init_usage_errors(tmp_path):
    assert run_kura("init").returncode == 2
    assert run_kura("init", "--data", str(tmp_path / "d"), "extra").returncode == 2
    assert run_kura("init", "--bogus").returncode == 2


def test_version_and_help():
    proc = run_kura("--version", check=True)
    assert proc.stdout.startswith("kura 0.")
    assert run_kura("version", check=True).stdout == proc.stdout
    help_text = run_kura("help", check=True).stdout
    for cmd in ["init", "serve", "status", "config"]:
        assert f"  {cmd} " in help_text
    assert run_kura().returncode == 2
    unknown = run_kura("frobnicate")
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr


def test_configuration_reference_is_current():
    """docs/configuration.md is the output of `kura config reference`."""
    root = Path(os.environ.get("KURA_SOURCE_ROOT") or Path(__file__).resolve().parents[2])
    generated = run_kura("config", "reference", check=True).stdout
    assert (root / "docs" / "configuration.md").read_text() == generated, \
        "regenerate with: build/kura config reference > docs/configuration.md"


def test_init_seals_an_emergency_account_envelope(tmp_path):
    """--break-glass: a disabled emergency administrator and its envelope (one-time password and
    sealed credential) in a new 0600 file; the code itself is not stored."""
    data, envelope = tmp_path / "d", tmp_path / "envelope.txt"
    run_kura("init", "--data", str(data), "--admin", "alice", "--break-glass", "emergency",
             "--break-glass-file", str(envelope), check=True)
    assert mode(envelope) == 0o600
    text = envelope.read_text()
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    code = fields["sealed credential / 封緘コード"]
    assert fields["kura emergency account / 非常用アカウント"] == "emergency"
    assert len(code) == 39 and len(fields["one-time password / 初回パスワード"]) >= 16
    db = sqlite3.connect(data / "kura.db")
    assert db.execute("select status from accounts where id = 'emergency'").fetchone()[0] == \
        "disabled"
    row = db.execute("select length(sealed_mac), sealed_minutes from break_glass").fetchone()
    assert row == (32, 240)
    assert code.encode() not in (data / "kura.db").read_bytes()
    # The envelope opens the account once, at the console too.
    proc = run_kura("user", "break-glass", "emergency", "--unseal", "--data", str(data),
                    input=code + "\n")
    assert proc.returncode == 0 and "enabled until" in proc.stdout, proc.stderr
    assert db.execute("select status from accounts where id = 'emergency'").fetchone()[0] == \
        "active"
    proc = run_kura("user", "break-glass", "emergency", "--unseal", "--data", str(data),
                    input=code + "\n")
    assert proc.returncode != 0 and "does not open" in proc.stderr
    # A bad ID, the administrator's own ID, or a file without the account: usage errors.
    for extra in (["--break-glass", "Bad ID"], ["--break-glass", "alice"],
                  ["--break-glass-file", str(tmp_path / "x")]):
        proc = run_kura("init", "--data", str(tmp_path / "e"), "--admin", "alice", *extra)
        assert proc.returncode == 2 and not (tmp_path / "e").exists()
