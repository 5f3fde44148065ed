"""Real WebDAV clients against kura: litmus (the RFC 4918 conformance suite), rclone and
cadaver. Each talks HTTPS to a real `kura serve` with an app password."""
import os
import re
import shutil
import subprocess

import pytest

from test_dav import app_password
from test_identity import add_user, enrol, fast

PASSPHRASE = "a long river passphrase 2026"


@pytest.fixture
def user(instance, tmp_path):
    server = fast(instance)
    otp = add_user(instance, tmp_path, "rin")
    s, csrf, _ = enrol(server, "rin", otp, PASSPHRASE)
    return server, "rin", app_password(server, s, csrf, "clients", "read-write")


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} is missing: scripts/deps.sh test installs it"
    return path


LITMUS_SUITES = ["basic", "copymove", "props", "locks", "http"]


@pytest.mark.parametrize("suite", LITMUS_SUITES)
def test_litmus(user, tmp_path, suite):
    server, name, password = user
    env = {**os.environ, "TESTS": suite}
    proc = subprocess.run(
        # "--": an app password may begin with "-", which getopt would take for an option.
        [tool("litmus"), "--keep-going", "--", server.url + "/dav/home/", name, password],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    summary = re.findall(r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed",
                         out)
    assert summary, out
    failed = sum(int(s[3]) for s in summary)
    assert failed == 0 and proc.returncode == 0, out


def rclone(server, name, password, *args, tmp):
    obscured = subprocess.run([tool("rclone"), "obscure", "--", password], capture_output=True,
                              text=True, check=True).stdout.strip()
    env = {**os.environ, "RCLONE_CONFIG": str(tmp / "rclone.conf"),
           "RCLONE_CONFIG_KURA_TYPE": "webdav", "RCLONE_CONFIG_KURA_URL": server.url + "/dav/home",
           "RCLONE_CONFIG_KURA_VENDOR": "owncloud", "RCLONE_CONFIG_KURA_USER": name,
           "RCLONE_CONFIG_KURA_PASS": obscured}
    return subprocess.run([tool("rclone"), "--ca-cert", server.ca, "--low-level-retries", "1",
                           "--retries", "1", *args], capture_output=True, text=True, timeout=600,
                          env=env)


def test_rclone_copy_sync_and_check(user, tmp_path):
    server, name, password = user
    src = tmp_path / "src"
    (src / "sub" / "深い").mkdir(parents=True)
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(300_000),
             "sub/深い/c.csv": b"id,value\n1,2\n", "empty": b""}
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    run = lambda *a: rclone(server, name, password, *a, tmp=tmp_path)  # noqa: E731
    p = run("copy", str(src), "kura:proj")
    assert p.returncode == 0, p.stderr
    p = run("check", "--download", str(src), "kura:proj")
    assert p.returncode == 0, p.stderr
    # sync: a changed file, a new one and a removed one.
    (src / "a.txt").write_bytes(b"alpha, changed\n")
    (src / "new.txt").write_bytes(b"new\n")
    (src / "empty").unlink()
    p = run("sync", str(src), "kura:proj")
    assert p.returncode == 0, p.stderr
    p = run("check", "--download", str(src), "kura:proj")
    assert p.returncode == 0, p.stderr
    p = run("lsf", "-R", "kura:proj")
    assert sorted(p.stdout.split()) == sorted(["a.txt", "new.txt", "sub/", "sub/b.bin",
                                               "sub/深い/", "sub/深い/c.csv"])
    back = tmp_path / "back"
    p = run("copy", "kura:proj", str(back))
    assert p.returncode == 0, p.stderr
    assert (back / "sub" / "b.bin").read_bytes() == files["sub/b.bin"]


def test_cadaver_session(user, tmp_path):
    server, name, password = user
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text(f"machine localhost login {name} password {password}\n")
    os.chmod(home / ".netrc", 0o600)
    local = tmp_path / "local.txt"
    local.write_text("written by cadaver\n")
    script = "\n".join([
        "mkcol docs", "cd docs", f"put {local} notes.txt", "propset notes.txt color blue",
        "propget notes.txt color", "copy notes.txt copy.txt", "move copy.txt moved.txt",
        "lock notes.txt", "unlock notes.txt", f"get moved.txt {tmp_path / 'got.txt'}", "ls",
        "delete notes.txt", "ls", "quit", ""])
    # cadaver asks on its terminal whether to accept the self-signed certificate (and refuses
    # when there is none): script(1) gives it one, fed from the pipe.
    proc = subprocess.run([tool("script"), "-qec", f"{tool('cadaver')} {server.url}/dav/home/",
                           "/dev/null"], input="y\n" + script, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HOME": str(home), "TERM": "dumb"})
    out = proc.stdout + proc.stderr
    assert out.count("succeeded") >= 11 and "failed" not in out, out
    assert "blue" in out, out
    assert (tmp_path / "got.txt").read_text() == "written by cadaver\n"
    listing = out.split("Listing collection")[-1]
    assert "moved.txt" in listing and "notes.txt" not in listing, out
