"""`kura serve` refuses to start, with a clear message and exit 1, whenever something about the
data folder, its configuration, its keys, its database or its port is wrong; and the basics of a
server that did start (health, admin socket, single writer)."""
import os
import re
import socket
import sqlite3
import subprocess

import pytest

from conftest import KURA_BIN, run_kura


def serve_fails(instance, *extra_args, timeout=60):
    """Runs `kura serve` expecting a refusal; returns stderr."""
    proc = subprocess.run([KURA_BIN, "serve", "--data", str(instance.data), "--listen",
                           f"127.0.0.1:{instance.port}", *extra_args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 1, proc.stderr
    assert "event=listening" not in proc.stderr
    return proc.stderr


def append_conf(instance, text):
    with open(instance.data / "kura.conf", "a") as f:
        f.write(text)
    return len((instance.data / "kura.conf").read_text().splitlines())


def key_line(instance, section, key):
    """Line number of `key = ...` in [section] of kura.conf."""
    current = None
    for n, line in enumerate((instance.data / "kura.conf").read_text().splitlines(), 1):
        m = re.match(r"^\[(\w+)\]", line)
        if m:
            current = m.group(1)
        elif current == section and re.match(rf"^{key}\s*=", line):
            return n
    raise AssertionError(f"{section}.{key} not in kura.conf")


@pytest.mark.parametrize("section, key, value, fragments", [
    ("http", "header_timeout", "soon",
     ["[http] header_timeout = 'soon'", "a whole number from 1 to 3600 (seconds)"]),
    ("http", "threads", "65", ["[http] threads = '65'", "from 0 to 64"]),
    ("tls", "min_version", "1.0", ["[tls] min_version = '1.0'", "one of 1.2, 1.3"]),
    ("log", "level", "loud", ["[log] level = 'loud'", "one of error, warning, info, debug"]),
    ("http", "listen", "everywhere", ["[http] listen = 'everywhere'", "numeric IPv4"]),
    ("http", "public_url", "http://x", ["[http] public_url = 'http://x'", "https://host"]),
    ("password", "profile", "none", ["one of kura-default, nist, mhlw6-a"]),
    ("password", "profile", "nist ; no inline comments",
     ["[password] profile = 'nist ; no inline comments'"]),
])
def test_bad_value_names_file_line_key_and_allowed(instance, section, key, value, fragments):
    instance.init()
    instance.set(section, key, value)
    err = serve_fails(instance)
    conf = str(instance.data / "kura.conf")
    assert f"{conf}:{key_line(instance, section, key)}: " in err, err
    for frag in fragments:
        assert frag in err, err


@pytest.mark.parametrize("text, fragments", [
    ("[htp]\nlisten = 1.2.3.4:5\n", ["unknown section [htp]", "known sections: [http]"]),
    ("[http]\nthreds = 2\n", ["unknown key 'threds' in section [http]", "known keys: listen"]),
    ("just text\n", ["malformed line", "expected key = value"]),
])
def test_bad_structure_names_file_line(instance, text, fragments):
    instance.init()
    first = len((instance.data / "kura.conf").read_text().splitlines()) + 1
    append_conf(instance, text)
    err = serve_fails(instance)
    conf = str(instance.data / "kura.conf")
    assert f"{conf}:{first}:" in err or f"{conf}:{first + 1}:" in err, err
    for frag in fragments:
        assert frag in err, err


def test_duplicate_key_is_refused(instance):
    instance.init()
    append_conf(instance, "[http]\nthreads = 3\n")
    err = serve_fails(instance)
    assert "duplicate key 'threads' in section [http] (first set on line" in err


def test_hostile_config_bytes_are_refused(instance):
    instance.init()
    path = instance.data / "kura.conf"
    original = path.read_bytes()
    for bad, why in [(b"[log]\nlevel = info\x00\n", "NUL byte"),
                     (b"# \xc0\xaf\n", "invalid UTF-8"),
                     (b"[log]\n# " + b"x" * 5000 + b"\n", "line longer than 4096 bytes"),
                     (b"[log]\nlevel = in\rfo\n", "control character")]:
        path.write_bytes(original + bad)
        assert why in serve_fails(instance)
    path.write_bytes(original)


def test_cross_key_check(instance):
    instance.init()
    instance.set("http", "max_connections", "100")
    instance.set("http", "per_ip_connections", "200")
    assert "per_ip_connections = 200: larger than max_connections" in serve_fails(instance)


@pytest.mark.parametrize("name, mode", [
    ("keys/c4gh.sec", 0o640), ("keys/c4gh.sec", 0o604), ("keys/sign.key", 0o660),
    ("keys/audit.key", 0o644), ("keys/tls.key", 0o644), ("keys/pepper", 0o640),
    ("keys", 0o755),
])
def test_secret_key_modes_are_enforced(instance, name, mode):
    instance.init()
    os.chmod(instance.data / name, mode)
    err = serve_fails(instance)
    base = os.path.basename(name)
    assert base in err and ("chmod" in err), err


def test_symlinked_key_is_refused(instance):
    instance.init()
    keys = instance.data / "keys"
    os.rename(keys / "c4gh.sec", instance.root / "elsewhere.sec")
    os.symlink(instance.root / "elsewhere.sec", keys / "c4gh.sec")
    assert "c4gh.sec" in serve_fails(instance)


def test_data_folder_mode_is_enforced(instance):
    instance.init()
    os.chmod(instance.data, 0o750)
    assert "has mode 0750" in serve_fails(instance)


def test_not_a_data_folder(tmp_path):
    proc = subprocess.run([KURA_BIN, "serve", "--data", str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "is not a kura data folder" in proc.stderr
    proc = subprocess.run([KURA_BIN, "serve", "--data", str(tmp_path / "missing")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "kura init --data" in proc.stderr


def test_interrupted_init_is_refused(instance):
    instance.init()
    (instance.data / ".kura-init").write_text("")
    assert "not fully initialised" in serve_fails(instance)


def test_newer_schema_is_refused_untouched(instance):
    instance.init()
    db = sqlite3.connect(instance.data / "kura.db")
    db.execute("insert into schema_version (version, name, applied_at) "
               "values (99, 'future', '2030-01-01T00:00:00Z')")
    db.commit()
    db.close()
    before = (instance.data / "kura.db").read_bytes()
    err = serve_fails(instance)
    assert "schema version 99 is newer than this kura" in err
    assert (instance.data / "kura.db").read_bytes() == before


def test_port_in_use_is_refused(instance):
    instance.init()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", instance.port))
        s.listen()
        err = serve_fails(instance)
    assert f"cannot listen on 127.0.0.1:{instance.port}" in err
    assert "Address already in use" in err


def test_second_server_on_same_folder_is_refused(instance):
    instance.init()
    first = instance.serve()
    other_port = instance.port + 1 if instance.port < 65000 else instance.port - 1
    proc = subprocess.run([KURA_BIN, "serve", "--data", str(instance.data), "--listen",
                           f"127.0.0.1:{other_port}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"in use by another kura process (pid {first.proc.pid})" in proc.stderr
    assert first.get("/healthz").status_code == 200


def test_bad_listen_override_is_refused(instance):
    instance.init()
    proc = subprocess.run([KURA_BIN, "serve", "--data", str(instance.data), "--listen",
                           "localhost:80"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "[http] listen = 'localhost:80'" in proc.stderr


def test_healthz_and_security_headers(server):
    r = server.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["version"] == run_kura("--version").stdout.split()[1]
    h = r.headers
    assert h["Strict-Transport-Security"].startswith("max-age=")
    assert h["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Cache-Control"] == "no-store"
    assert re.fullmatch(r"[0-9a-f]{32}", h["X-Request-Id"])


def test_status_through_admin_socket(server):
    out = server.ctl("status").stdout
    assert f'"pid": {server.proc.pid}' in out
    assert f'"listen": "127.0.0.1:{server.port}"' in out
    assert oct(os.stat(server.data / "kura.sock").st_mode & 0o777) == "0o600"


def test_status_without_server(instance):
    instance.init()
    proc = run_kura("status", "--data", str(instance.data))
    assert proc.returncode == 1 and "no kura server is running" in proc.stderr


def test_admin_socket_and_lock_are_released_on_stop(instance):
    instance.init()
    s = instance.serve()
    assert (instance.data / "kura.sock").exists()
    assert s.stop() == 0
    assert not (instance.data / "kura.sock").exists()
    assert (instance.data / "kura.lock").read_text() == ""
    # A fresh server starts on the same folder.
    assert instance.serve().get("/healthz").status_code == 200


def test_stale_socket_after_kill_is_replaced(instance):
    instance.init()
    s = instance.serve()
    s.proc.kill()
    s.proc.wait()
    assert (instance.data / "kura.sock").exists()  # left behind by SIGKILL
    assert instance.serve().get("/healthz").status_code == 200


def test_config_check_command(instance):
    instance.init()
    ok = run_kura("config", "check", "--data", str(instance.data))
    assert ok.returncode == 0 and ok.stdout.endswith(": ok\n")
    append_conf(instance, "[http]\nnope = 1\n")
    bad = run_kura("config", "check", "--data", str(instance.data))
    assert bad.returncode == 1 and "unknown key 'nope'" in bad.stderr


def test_serve_usage(instance):
    assert run_kura("serve").returncode == 2
    assert run_kura("serve", "--data").returncode == 2
    assert run_kura("serve", "--help").returncode == 0


def test_core_dumps_disabled_and_private_umask(server):
    """Core files would hold keys: the server sets RLIMIT_CORE to 0 and umask 077."""
    limits = (open(f"/proc/{server.proc.pid}/limits").read())
    core = [l for l in limits.splitlines() if l.startswith("Max core file size")][0]
    assert core.split()[4:6] == ["0", "0"], core
    status = open(f"/proc/{server.proc.pid}/status").read()
    assert re.search(r"^Umask:\s+0077$", status, re.M), status
