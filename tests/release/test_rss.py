"""The memory bound of streaming (issue 5 item 9), on the release build: 32 parallel downloads
of a 512 MiB file and 8 parallel uploads of 1 GiB at the same time keep kura's resident memory
(VmHWM, the peak) under 256 MiB. curl does the transfers, so the client is not the bottleneck.
Run by `make test` through meson's release suite (tests/meson.build)."""
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from conftest import instance  # noqa: E402,F401 (the fixture)
from test_dav import app_password  # noqa: E402
from test_identity import add_user, enrol, fast  # noqa: E402

MiB = 1024 * 1024


def vm(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(key)


def test_streaming_memory_stays_bounded(instance, tmp_path):  # noqa: F811
    server = fast(instance)
    otp = add_user(instance, tmp_path, "rin")
    s, csrf, _ = enrol(server, "rin", otp, "a long river passphrase 2026")
    pw = app_password(server, s, csrf, "curl", "read-write")
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # 1 GiB of a repeating random MiB: cheap to make, not sparse
        block = os.urandom(MiB)
        for _ in range(1024):
            f.write(block)
    half = tmp_path / "half.bin"
    with open(half, "wb") as f:
        for _ in range(512):
            f.write(block)
    base = server.url + "/dav/home/"
    curl = ["curl", "-sS", "--fail", "--cacert", server.ca, "-u", f"rin:{pw}", "-o", "/dev/null",
            "-w", "%{http_code}"]
    assert subprocess.run(curl + ["-T", str(half), base + "half.bin"], check=True,
                          capture_output=True, text=True).stdout == "201"
    before = vm(server.proc.pid, "VmHWM")
    procs = [subprocess.Popen(curl + [base + "half.bin"], stdout=subprocess.PIPE)
             for _ in range(32)]
    procs += [subprocess.Popen(curl + ["-T", str(big), base + f"up{i}.bin"],
                               stdout=subprocess.PIPE) for i in range(8)]
    codes = [p.communicate(timeout=1800)[0].decode() for p in procs]
    assert codes == ["200"] * 32 + ["201"] * 8, codes
    peak = vm(server.proc.pid, "VmHWM")
    print(f"kura VmHWM before {before} KiB, after 32x512 MiB down + 8x1 GiB up: {peak} KiB")
    assert peak < 256 * 1024, f"peak RSS {peak} KiB"
