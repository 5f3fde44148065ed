"""Graceful stop, the work queue behind suspended connections, and the test clock
(src/cli/serve.c drain, src/http/request.c kura_req_defer, src/base/clock.c).

Synchronisation is by polling `kura status` (in_flight, connections) or the log, never by a
fixed sleep; /_test/sleep?ms=N stands in for blocking work (Argon2id, fsync).
"""
import json
import signal
import time

import pytest
from concurrent.futures import ThreadPoolExecutor

from conftest import run_kura
from test_audit import records
from helpers import (RawConn, assert_error, connect_refused, request_bytes, send_raw, status,
                     wait_until)


class Sleepers:
    """n concurrent GET /_test/sleep?ms=N requests on their own connections."""

    def __init__(self, server, n, ms):
        self.pool = ThreadPoolExecutor(max_workers=n)
        self.futures = []
        for _ in range(n):
            self.futures.append(self.pool.submit(self._one, server.port, ms))

    @staticmethod
    def _one(port, ms):
        resp = send_raw(port, request_bytes(port, "GET", f"/_test/sleep?ms={ms}"), timeout=90)
        return resp, time.monotonic()

    def results(self, timeout=90):
        out = [f.result(timeout=timeout) for f in self.futures]
        self.pool.shutdown()
        return out


def wait_in_flight(server, n, timeout=20):
    wait_until(lambda: status(server)["in_flight"] == n, timeout, f"in_flight == {n}")


def test_sigterm_drains_requests_in_flight(server):
    # a keep-alive connection opened before the signal
    idle = RawConn(server.port)
    idle.send(request_bytes(server.port))
    assert idle.response().status == 200
    sleepers = Sleepers(server, 3, 3000)
    wait_in_flight(server, 3)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    # new connections are refused soon after the signal...
    wait_until(lambda: connect_refused(server.port), 2, "new connections to be refused")
    # ...a new request on an already open connection gets 503 and the connection is closed...
    idle.send(request_bytes(server.port))
    resp = idle.response()
    assert resp is not None, "no answer on the open connection during the drain"
    assert_error(resp, 503, "unavailable")
    assert resp.header("retry-after") is not None, resp
    assert resp.header("connection") == "close", resp
    assert idle.rest_until_close(timeout=10) == b""
    idle.close()
    # ...and the requests in flight complete before the server exits 0
    code = server.proc.wait(timeout=30)
    exited = time.monotonic()
    for resp, done in sleepers.results():
        assert resp.status == 200, resp
        assert resp.json() == {"slept": True, "rounds": 1}
        assert signalled < done <= exited + 0.5
    assert code == 0, server.log()
    assert "event=stop_abandoned_requests" not in server.log()


def test_second_sigterm_stops_at_once(server):
    sleepers = Sleepers(server, 2, 6000)
    wait_in_flight(server, 2)
    server.proc.send_signal(signal.SIGTERM)
    server.wait_for_log("event=stopping", 10)
    assert server.proc.poll() is None, "exited on the first signal despite requests in flight"
    second = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(timeout=30)
    took = time.monotonic() - second
    sleepers.results()
    assert code == 0, server.log()
    assert "event=stop_forced" in server.log()
    assert took < 1.5, f"second SIGTERM: exit only after {took:.2f}s (the sleeps take 6 s)"


def test_shutdown_timeout_bounds_the_drain(instance):
    instance.init()
    instance.set("http", "shutdown_timeout", "1")
    server = instance.serve()
    sleepers = Sleepers(server, 1, 10000)
    wait_in_flight(server, 1)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(timeout=30)
    took = time.monotonic() - signalled
    sleepers.results()
    assert code == 0, server.log()
    assert "event=stop_abandoned_requests count=1" in server.log()
    assert took <= 3.0, f"shutdown_timeout = 1: exit only after {took:.2f}s"


@pytest.mark.parametrize("timeout", ["30", "0"])
def test_stop_while_requests_wait_for_their_audit_records(instance, timeout):
    """Each audit commit is held 1.5 s, so the requests wait for their records when SIGTERM
    comes. With a drain (shutdown_timeout = 30) every request is answered; with none (0) they
    are abandoned, each client gets its answer or a closed connection. Either way every
    request's record is written before the process exits 0."""
    instance.init()
    instance.set("http", "shutdown_timeout", timeout)
    server = instance.serve()
    run_kura("debug", "audit-delay", "--data", str(instance.data), "1500", check=True)
    sleepers = Sleepers(server, 6, 1)
    wait_in_flight(server, 6)
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(timeout=60)
    answers = [resp.status for resp, _ in sleepers.results()]
    assert code == 0, server.log()
    if timeout == "0":
        assert "event=stop_abandoned_requests count=6" in server.log()
        assert set(answers) <= {200, None}, answers
    else:
        assert "stop_abandoned_requests" not in server.log()
        assert answers == [200] * 6, answers
    assert sum(1 for r in records(instance.data) if r["action"] == "test.sleep") == 6


def test_blocking_work_does_not_stall_others(instance):
    instance.init()
    instance.set("http", "work_threads", "2")
    server = instance.serve()
    sleepers = Sleepers(server, 2, 5000)
    wait_in_flight(server, 2)
    latencies = []
    for _ in range(50):
        t = time.monotonic()
        resp = send_raw(server.port, request_bytes(server.port))
        latencies.append(time.monotonic() - t)
        assert resp.status == 200, resp
    finished = time.monotonic()
    assert max(latencies) < 0.75, f"slowest /healthz {max(latencies):.2f}s"
    results = sleepers.results()
    for resp, done in results:
        assert resp.status == 200, resp
        assert done > finished, "the sleepers ended before the 50 requests: no overlap shown"


def test_work_queue_full_answers_503(instance):
    instance.init()
    instance.set("http", "work_threads", "1")
    instance.set("http", "work_queue", "1")
    server = instance.serve()
    first = Sleepers(server, 1, 2000)   # runs on the one work thread
    wait_in_flight(server, 1)
    second = Sleepers(server, 1, 2000)  # waits in the queue of one
    wait_in_flight(server, 2)
    resp = send_raw(server.port, request_bytes(server.port, "GET", "/_test/sleep?ms=2000"))
    assert_error(resp, 503, "unavailable")
    retry = resp.header("retry-after")
    assert retry is not None and retry.isdigit(), resp
    for resp, _ in first.results() + second.results():
        assert resp.status == 200, resp
    # the queue has room again
    ok = send_raw(server.port, request_bytes(server.port, "GET", "/_test/sleep?ms=10"))
    assert ok.status == 200, ok


def test_a_resumed_handler_can_defer_again(server):
    # the resume callback runs on the job's thread and queues a second job from there
    resp = send_raw(server.port, request_bytes(server.port, "GET", "/_test/sleep?ms=5&then=5"))
    assert resp.status == 200, resp
    assert resp.json() == {"slept": True, "rounds": 2}, resp
    assert send_raw(server.port, request_bytes(server.port)).status == 200


def test_second_job_refused_when_the_queue_is_full(instance):
    instance.init()
    instance.set("http", "work_threads", "1")
    instance.set("http", "work_queue", "1")
    server = instance.serve()
    first = Sleepers(server, 1, "2000&then=10")  # its second step finds the queue full
    wait_in_flight(server, 1)
    second = Sleepers(server, 1, 10)  # waits in the queue of one behind the first
    wait_in_flight(server, 2)
    (resp, _), = first.results()
    assert_error(resp, 503, "unavailable")
    assert resp.header("retry-after") is not None, resp
    (resp, _), = second.results()
    assert resp.status == 200 and resp.json()["rounds"] == 1, resp


def test_clock_shift_reaches_the_sweeper(instance):
    instance.init()
    instance.set("http", "header_timeout", "600")
    server = instance.serve()
    with RawConn(server.port) as c:
        c.send(b"GET /healthz HTTP/1.1\r\n")  # headers started, never finished
        wait_until(lambda: status(server)["connections"] == 1, 10, "the connection to register")
        # control: well inside its 600 s, the connection is left alone
        assert c.still_open(1.0), "connection closed before the clock moved"
        proc = run_kura("debug", "clock-shift", "--data", str(server.data), "3600000")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert json.loads(proc.stdout)["offset_ms"] == 3600000, proc.stdout
        # one hour later by the server's clock: past header_timeout, cut at the next sweep
        assert c.rest_until_close(timeout=3) == b""
    server.wait_for_log("event=slow_clients_disconnected", 5)
    assert send_raw(server.port, request_bytes(server.port)).status == 200


def test_password_hashing_is_bounded_and_does_not_stall_others(instance):
    """Argon2id (64 MiB, ~60 ms each at the default cost) runs on its own pool of
    password.hash_workers threads: a storm of hashes queues there, never more than that many run
    at once (so memory stays bounded), and /healthz keeps answering meanwhile."""
    instance.init()
    instance.set("password", "hash_workers", "2")
    instance.set("password", "hash_opslimit", "4")  # ~120 ms a hash: the storm lasts seconds
    server = instance.serve()
    n = 40
    with ThreadPoolExecutor(max_workers=n) as pool:
        storm = [pool.submit(send_raw, server.port,
                             request_bytes(server.port, "GET", "/_test/hash"), 120)
                 for _ in range(n)]
        wait_until(lambda: status(server)["hash_pool"]["running"] == 2, 30,
                   "two hashes running")
        slowest = 0.0
        for _ in range(10):
            t0 = time.monotonic()
            assert send_raw(server.port, request_bytes(server.port)).status == 200
            slowest = max(slowest, time.monotonic() - t0)
        still_hashing = status(server)["hash_pool"]
        results = [f.result(timeout=120) for f in storm]
    assert all(r.status == 200 and r.json() == {"hashed": True} for r in results), results
    assert still_hashing["running"] + still_hashing["queued"] > 0, \
        "the hashes ended before the /healthz requests: no overlap shown"
    assert slowest < 1.0, f"/healthz took {slowest:.2f}s during the hashing storm"
    pools = status(server)
    assert pools["hash_pool"]["threads"] == 2
    assert pools["hash_pool"]["max_running"] == 2
    assert pools["work_pool"]["max_running"] == 0  # hashing never borrowed a storage thread


def test_audit_delay_refuses_bad_arguments(server, instance):
    """`kura debug audit-delay` (test builds): a value that is not a whole number of milliseconds
    up to 60000 is a usage error (exit 2) and changes nothing; a good one is taken."""
    for bad in ("-5", "60001", "1e3", "", "5ms", "99999999999999999999", "1\x01"):
        proc = run_kura("debug", "audit-delay", "--data", str(instance.data), bad)
        assert proc.returncode == 2, (bad, proc.returncode, proc.stderr)
        assert "usage: kura debug" in proc.stderr
    proc = run_kura("debug", "audit-delay", "--data", str(instance.data))
    assert proc.returncode == 2
    assert run_kura("debug", "audit-delay", "--data", str(instance.data), "0").returncode == 0
    assert status(server)["in_flight"] == 0
