"""TLS policy of the HTTPS listener (src/http/server.c kura_http_tls_priorities): TLS 1.2 and
1.3 only, AEAD suites only, ECDHE only, AES-GCM preferred by the server, no plaintext.

Refusals are checked with `openssl s_client`, and every refusal has a control: the very same
client command succeeds against a permissive `openssl s_server` using kura's own certificate,
so a refusal is the kura server's doing, not the client's inability.
"""
import socket
import subprocess
import time

import pytest

from helpers import openssl_server, s_client

LEGACY = ["-cipher", "DEFAULT@SECLEVEL=0"]


def keys(server):
    return server.data / "keys" / "tls.crt", server.data / "keys" / "tls.key"


@pytest.fixture
def control(server):
    """A permissive openssl s_server with kura's certificate and key (client preference)."""
    cert, key = keys(server)
    with openssl_server(cert, key, "-cipher", "ALL@SECLEVEL=0") as port:
        yield port


def test_modern_versions_accepted(server):
    for flag, version in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")]:
        proto, cipher, out = s_client(server.port, flag, *LEGACY)
        assert proto == version, out
    assert server.get("/healthz").status_code == 200


@pytest.mark.parametrize("flag,version", [("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")])
def test_old_versions_refused(server, control, flag, version):
    proto, _, out = s_client(control, flag, *LEGACY)
    assert proto == version, f"control: the client cannot speak {version} at all:\n{out}"
    proto, cipher, out = s_client(server.port, flag, *LEGACY)
    assert proto is None, f"kura accepted {proto} {cipher}:\n{out}"


def gnutls_cli(port, priority):
    proc = subprocess.run(["gnutls-cli", "--insecure", "--port", str(port), "--priority",
                           priority, "127.0.0.1"], input="", capture_output=True, text=True,
                          timeout=20)
    out = proc.stdout + proc.stderr
    return proc.returncode == 0 and "Handshake was completed" in out, out


@pytest.mark.parametrize("version", ["TLS1.0", "TLS1.1"])
def test_old_versions_refused_gnutls(server, control, version):
    """The same with a second TLS implementation as the client."""
    priority = f"NORMAL:-VERS-ALL:+VERS-{version}:+SHA1:+AES-128-CBC:+AES-256-CBC"
    ok, out = gnutls_cli(control, priority)
    assert ok, f"control: gnutls-cli cannot speak {version}:\n{out}"
    ok, out = gnutls_cli(server.port, priority)
    assert not ok, f"kura accepted {version}:\n{out}"
    ok, out = gnutls_cli(server.port, "NORMAL:-VERS-ALL:+VERS-TLS1.2")
    assert ok, f"gnutls-cli TLS 1.2 failed:\n{out}"


@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                                   "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"])
def test_non_aead_tls12_suites_refused(server, control, suite):
    proto, cipher, out = s_client(control, "-tls1_2", "-cipher", suite + "@SECLEVEL=0")
    assert cipher == suite, f"control: the client does not offer {suite}:\n{out}"
    proto, cipher, out = s_client(server.port, "-tls1_2", "-cipher", suite + "@SECLEVEL=0")
    assert cipher is None, f"kura negotiated {cipher}:\n{out}"


@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES128-GCM-SHA256",
                                   "ECDHE-ECDSA-AES256-GCM-SHA384",
                                   "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_aead_tls12_suites_accepted(server, suite):
    proto, cipher, out = s_client(server.port, "-tls1_2", "-cipher", suite)
    assert (proto, cipher) == ("TLSv1.2", suite), out


@pytest.fixture
def rsa_server(instance, tmp_path):
    """kura with an RSA certificate, so that RSA key exchange suites could be negotiated at all
    if the policy allowed them."""
    instance.init()
    cert, key = tmp_path / "rsa.crt", tmp_path / "rsa.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    key.chmod(0o600)
    instance.set("tls", "cert_file", str(cert))
    instance.set("tls", "key_file", str(key))
    server = instance.serve()
    with openssl_server(cert, key, "-cipher", "ALL@SECLEVEL=0") as control_port:
        yield server, control_port


@pytest.mark.parametrize("suite", ["AES256-SHA256", "AES128-SHA", "AES128-GCM-SHA256",
                                   "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384"])
def test_rsa_non_aead_or_static_kx_refused(rsa_server, suite):
    """AES256-SHA256 and friends: CBC+HMAC and/or static RSA key exchange (no forward
    secrecy); AES128-GCM-SHA256 is AEAD but static RSA, also outside the policy."""
    server, control = rsa_server
    proto, cipher, out = s_client(control, "-tls1_2", "-cipher", suite + "@SECLEVEL=0")
    assert cipher == suite, f"control: the client does not offer {suite}:\n{out}"
    proto, cipher, out = s_client(server.port, "-tls1_2", "-cipher", suite + "@SECLEVEL=0")
    assert cipher is None, f"kura negotiated {cipher}:\n{out}"
    proto, cipher, out = s_client(server.port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert cipher == "ECDHE-RSA-AES128-GCM-SHA256", out


def test_min_version_13(instance):
    instance.init()
    instance.set("tls", "min_version", "1.3")
    server = instance.serve()
    cert, key = keys(server)
    with openssl_server(cert, key) as control:
        proto, _, out = s_client(control, "-tls1_2")
        assert proto == "TLSv1.2", f"control: the client cannot speak TLS 1.2:\n{out}"
    proto, cipher, out = s_client(server.port, "-tls1_2")
    assert proto is None, f"kura accepted {proto} {cipher} with min_version = 1.3:\n{out}"
    proto, cipher, out = s_client(server.port, "-tls1_3")
    assert proto == "TLSv1.3", out
    assert server.get("/healthz").status_code == 200


def test_no_plaintext_http(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: localhost:{server.port}\r\n\r\n".encode())
        got = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(4096)
            except socket.timeout:
                break
            except ConnectionError:
                break
            if not data:
                break
            got += data
    assert b"HTTP/" not in got, f"plaintext request answered: {got[:200]!r}"
    assert server.get("/healthz").status_code == 200  # the server survived it


def test_server_prefers_aes_gcm_tls12(server, control):
    offer = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256"
    _, cipher, out = s_client(control, "-tls1_2", "-cipher", offer)
    assert cipher == "ECDHE-ECDSA-CHACHA20-POLY1305", \
        f"control: the client does not put ChaCha20 first:\n{out}"
    _, cipher, out = s_client(server.port, "-tls1_2", "-cipher", offer)
    assert cipher == "ECDHE-ECDSA-AES128-GCM-SHA256", out
    # ChaCha20 alone still works (clients without AES instructions)
    _, cipher, out = s_client(server.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
    assert cipher == "ECDHE-ECDSA-CHACHA20-POLY1305", out


def test_server_prefers_aes_gcm_tls13(server, control):
    offer = "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
    _, cipher, out = s_client(control, "-tls1_3", "-ciphersuites", offer)
    assert cipher == "TLS_CHACHA20_POLY1305_SHA256", \
        f"control: the client does not put ChaCha20 first:\n{out}"
    _, cipher, out = s_client(server.port, "-tls1_3", "-ciphersuites", offer)
    assert cipher == "TLS_AES_128_GCM_SHA256", out
