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
        [tool("litmus"), "--keep-going", server.url + "/dav/home/", name, password],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    summary = re.findall(r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed",
                         out)
    assert summary, out
    failed = sum(int(s[3]) for s in summary)
    assert failed == 0 and proc.returncode == 0, out
