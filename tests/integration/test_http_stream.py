"""Streamed request and response bodies (src/http/http.h: route begin callbacks, body sinks,
kura_req_respond_stream): what WebDAV uploads and downloads stand on. The test routes
/_test/sink and /_test/stream exist only in -Dtest_hooks=true builds."""
import os
import time

import requests

from helpers import assert_error, request_bytes, send_raw

MiB = 1024 * 1024


def fnv1a(chunks):
    h = 14695981039346656037
    for c in chunks:
        for b in c:
            h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def blocks(n, size=MiB):
    for i in range(n):
        yield bytes([(i * 7 + j) % 256 for j in range(256)]) * (size // 256)


def hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_large_body_streams_through_without_being_held(instance):
    """256 MiB with Content-Length and again chunked: every byte reaches the sink in order, and
    the server's peak memory grows by far less than the body. (AddressSanitizer's quarantine
    would keep 256 MiB of freed TLS buffers alive and hide the difference: it is made small.)"""
    instance.init()
    asan = os.environ.get("ASAN_OPTIONS", "")
    server = instance.serve(env={"ASAN_OPTIONS": asan + ":quarantine_size_mb=1"})
    s = server.session()
    small = b"warm up"
    r = s.put(server.url + "/_test/sink", data=small, timeout=60)
    assert r.status_code == 200 and r.json() == {"bytes": len(small), "fnv": fnv1a([small])}
    before = hwm_kib(server.proc.pid)
    n = 256
    data = b"".join(blocks(n))
    expected = fnv1a([data])
    r = s.put(server.url + "/_test/sink", data=data, timeout=300)
    assert r.status_code == 200, r.text
    assert r.json() == {"bytes": n * MiB, "fnv": expected}
    r = s.put(server.url + "/_test/sink", data=blocks(n), timeout=300)  # a generator: chunked
    assert r.status_code == 200 and r.json() == {"bytes": n * MiB, "fnv": expected}
    grown = hwm_kib(server.proc.pid) - before
    assert grown < 64 * 1024, f"peak memory grew by {grown} KiB for a {n} MiB body"


def test_a_refusal_from_the_headers_goes_out_before_the_body(server):
    resp = send_raw(server.port, request_bytes(
        server.port, "PUT", "/_test/sink", b"X-Test-Refuse: 1\r\nContent-Length: 5\r\n", b"hello"))
    assert_error(resp, 403, "forbidden")


def test_a_failing_sink_answers_its_error_and_reads_no_further(server):
    s = server.session()
    r = s.put(server.url + "/_test/sink", data=b"x" * 200_000,
              headers={"X-Test-Fail-At": "1000"}, timeout=60)
    assert r.json()["error"]["code"] == "corrupt", r.text


def test_a_streamed_response_arrives_whole(server):
    n = 10 * MiB + 12345
    r = server.session().get(server.url + "/_test/stream", params={"size": str(n)}, timeout=120)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == n
    assert r.content == bytes((i % 251) for i in range(n))
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_a_streamed_response_that_fails_is_cut_short_not_completed(server):
    """The connection closes mid-body: the client holds fewer bytes than Content-Length said
    (urllib3 1.26 does not raise for that by itself, so the bytes are counted)."""
    n, got = 4 * MiB, 0
    try:
        with server.session().get(server.url + "/_test/stream", stream=True, timeout=60,
                                  params={"size": str(n), "fail_at": str(MiB)}) as r:
            assert r.status_code == 200 and int(r.headers["Content-Length"]) == n
            for chunk in r.iter_content(65536):
                got += len(chunk)
    except requests.exceptions.RequestException:
        pass
    assert got <= MiB
    assert server.get("/healthz").status_code == 200  # the server itself goes on


def test_small_responses_are_not_held_by_the_cork(server):
    """A small response is corked so that its header and body leave as one TCP segment, and
    uncorked once written (src/http/respond.c cork_small). Were it left corked, the kernel would
    hold each response for its 200 ms cork ceiling: on one keep-alive connection, streamed 4 KiB
    responses and HEADs come back far sooner."""
    s = server.session()
    timings = []
    for i in range(20):
        for method in ("GET", "HEAD"):
            t = time.monotonic()
            r = s.request(method, server.url + "/_test/stream?size=4096", timeout=30)
            timings.append(time.monotonic() - t)
            assert r.status_code == 200 and len(r.content) == (4096 if method == "GET" else 0)
    timings.sort()
    assert timings[len(timings) // 2] < 0.1, f"median {timings[len(timings) // 2]:.3f}s"
