"""``aifx serve`` against clients that open connections and never finish their request (slow, stuck or
malicious): a real server on 127.0.0.1 with short request timeouts, the raw sockets they hold."""

from __future__ import annotations

import json
import os
import resource
import socket
import struct
import subprocess
import sys
import time

from serve_helpers import TOKENS, Server, http, wait_for, write_tokens
from shot_files import make_shot, shot_job

#: A request head that never ends, and a POST whose body never comes.
PART_HEAD = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
PART_BODY = (
    b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 90000\r\n\r\n{"input":'
)


def _hold(url: str, head: bytes, count: int) -> list[socket.socket]:
    port = int(url.rsplit(":", 1)[1])
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(head)
        held.append(sock)
    return held


def _answer(sock: socket.socket) -> bytes:
    """What the server sent before it closed the connection (b"" when it just closed it)."""
    sock.settimeout(30)
    data = b""
    while True:
        piece = sock.recv(4096)
        if not piece:
            return data
        data += piece


def _limits(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/limits") as limits:
        line = next(line for line in limits if line.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    return int(soft), int(hard)


def test_unfinished_requests_are_closed_and_others_served_meanwhile(tmp_path):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    srv = Server(tmp_path / "state", "--header-timeout", "1", "--body-timeout", "1")
    # Started with a low soft limit (256, below systemd's default 1024): the server raises it to the hard limit.
    srv.start_options = {"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))}
    srv.start()
    try:
        assert srv.proc is not None
        assert _limits(srv.proc.pid)[0] == _limits(srv.proc.pid)[1]
        heads = _hold(srv.url, PART_HEAD, 20)
        bodies = _hold(srv.url, PART_BODY, 5)
        assert http("GET", srv.url + "/v1/health")[0] == 200  # served while they wait
        started = time.monotonic()
        assert all(_answer(sock) == b"" for sock in heads)  # closed without an answer
        for sock in bodies:
            answer = _answer(sock)
            assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 1 s" in answer
        assert time.monotonic() - started < 30  # (a guard against a hang only)
        for sock in heads + bodies:
            sock.close()
    finally:
        srv.stop()


def test_running_out_of_file_descriptors_neither_floods_the_log_nor_lasts(tmp_path):
    srv = Server(tmp_path / "state", "--header-timeout", "1")
    srv.start_options = {"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))}
    srv.start()
    try:
        held = _hold(srv.url, PART_HEAD, 150)  # far more than 64 descriptors: they queue in the backlog
        time.sleep(3)
        # Every one is taken and closed in turn, and then the server answers again.
        for sock in held:
            _answer(sock)
            sock.close()
        wait_for(lambda: http("GET", srv.url + "/v1/health")[0] == 200, timeout=30)

        def flood() -> list[str]:
            return [line for line in srv.log if "system resource" in line or "file descriptors" in line]

        wait_for(flood, timeout=30)  # (the log is read in a thread of this process: a busy one reads it late)
        assert 1 <= len(flood()) <= 3, srv.log[-20:]
        assert not [line for line in srv.log if line.startswith("Traceback")], srv.log[-20:]
    finally:
        srv.stop()


def test_a_client_that_leaves_mid_body_is_one_line_in_the_log(tmp_path):
    srv = Server(tmp_path / "state").start()
    try:
        for sock in _hold(srv.url, PART_BODY, 3):
            sock.close()
        assert http("GET", srv.url + "/v1/health")[0] == 200
        wait_for(lambda: sum(CLOSED_UNREAD in line for line in srv.log) == 3, timeout=30)
        assert not [line for line in srv.log if "Traceback" in line or "ClientDisconnect" in line], srv.log
    finally:
        srv.stop()


#: The log's line for a job whose connection closed before the server read it.
CLOSED_UNREAD = "the client closed the connection before its job was read; nothing was queued"


def test_a_client_that_sends_its_whole_job_and_leaves_at_once_is_logged_as_what_happened(tmp_path):
    """A client that sent a complete POST /v1/jobs and closed the socket at once was logged as "the client left
    before its job had arrived", which was false: the body had arrived. The server (uvicorn) drops a request's
    unread body once its connection is closed, so what the server knows is that it never read the job."""
    make_shot(tmp_path / "short", range(1, 3))
    srv = Server(tmp_path / "state").start()
    try:
        host, port = srv.url.split("//")[1].split(":")
        for index in range(3):
            job = shot_job(tmp_path / "short", tmp_path / f"out{index}" / "c.####.exr").to_dict()
            body = json.dumps(job).encode()
            head = (
                "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            with socket.create_connection((host, int(port))) as sock:
                sock.sendall(head.encode() + body)  # the whole request, then gone
        queued = lambda: http("GET", srv.url + "/v1/jobs")[2]["total"]  # noqa: E731
        # (each is read and queued, or closed unread and logged; on loopback the close comes first)
        logged = lambda: [line for line in srv.log if "POST" not in line and "/v1/jobs:" in line]  # noqa: E731
        wait_for(lambda: len(logged()) + queued() == 3, timeout=60)
        assert logged() and all(line.endswith(f"/v1/jobs: {CLOSED_UNREAD}") for line in logged()), srv.log
        assert not [line for line in srv.log if "had arrived" in line or "Traceback" in line], srv.log
    finally:
        srv.stop()


_DISPATCHER_WITHOUT_DESCRIPTORS = """
import logging, os, sys, time
from aifx_core.serve.pool import Pool
from aifx_core.serve.store import Store

logging.basicConfig(level=logging.INFO, format="%(message)s")
pool = Pool(Store(sys.argv[1]), [None])
held = []
try:
    while True:  # every descriptor this process may have is taken, as a flood of connections takes them
        held.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
pool.start()
time.sleep(1.5)  # the dispatcher cannot start its worker meanwhile
for fd in held:
    os.close(fd)
deadline = time.monotonic() + 60
while pool.workers[0].proc is None and time.monotonic() < deadline:
    time.sleep(0.1)
print("worker started" if pool.workers[0].proc is not None else "worker never started", file=sys.stderr)
pool.stop()
"""


def test_a_dispatcher_out_of_descriptors_says_so_in_one_line_and_starts_its_worker_later(tmp_path):
    """Out of file descriptors (a flood of connections, a low ulimit) the dispatcher cannot start its worker
    process: that is the machine's limit, not a bug, so the log says so in a line (no traceback, which reads
    as a crash and was counted as one) and the worker starts once descriptors are free again."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    done = subprocess.run(
        [sys.executable, "-c", _DISPATCHER_WITHOUT_DESCRIPTORS, str(tmp_path / "state")],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,
    )
    log = done.stderr.splitlines()
    assert "worker started" in log, log
    assert not [line for line in log if line.startswith("Traceback")], log
    assert [line for line in log if "no file can be opened just now" in line], log


def test_a_client_that_drops_the_event_stream_mid_replay_is_not_a_log_flood(tmp_path):
    """A client closing a finished job's event stream after its first event (an artist's panel closed, a
    dropped connection) left the server writing the rest of the backlog to the dead socket in one go: asyncio
    logged "socket.send() raised exception." for every event past the fifth, per drop (155 lines for a
    70-frame job), naming nothing. The stream now lets the server notice the drop between events."""
    shot = make_shot(tmp_path / "shot", range(1, 41))
    srv = Server(tmp_path / "state", "--token-file", str(write_tokens(tmp_path / "tokens"))).start()
    try:
        client = srv.client()
        job_id = client.submit(shot_job(shot, tmp_path / "out" / "c.####.exr").to_dict())["id"]
        assert len(list(client.events(job_id))) > 40  # to its end: every event is in the backlog now
        port = int(srv.url.rsplit(":", 1)[1])
        head = (
            f"GET /v1/jobs/{job_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {TOKENS['alice']}\r\n\r\n"
        )
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(head.encode())
            sock.recv(4096)  # the head and the first event or events
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset, at once
            sock.close()
            time.sleep(0.2)
        assert len(list(client.events(job_id))) > 40  # the server goes on serving the stream
    finally:
        srv.stop()
    flood = [line for line in srv.log if "raised exception" in line]
    assert len(flood) == 0, f"{len(flood)} lines like {flood[:1]}"


def test_history_keeps_a_long_job_that_ends_after_newer_ones(tmp_path):
    """``--history 2``, a long job, and three jobs queued after it and cancelled while it ran (they end first):
    the history was cut by submission order, so the long job's own ``done`` dropped it with its events. Its
    follower saw the stream end with no final event, reconnected, got 404, and `aifx submit` exited 2 ("no
    job ...") although every frame was written. The history keeps the jobs that finished last."""
    area = tmp_path / "studio"
    make_shot(area / "long", range(1, 7))
    make_shot(area / "short", range(1, 3))
    go = tmp_path / "go"
    srv = Server(tmp_path / "state", "--history", "2")
    # aifx's test hook (manifest.fault_point): after writing frame 2 the worker waits for the file go.
    srv.start_options["env"] = {**os.environ, "AIFX_TEST_WAIT": f"written:2:{go}"}
    srv.start()
    submit = None
    try:
        shot_job(area / "long", area / "out" / "c.####.exr").save(tmp_path / "long.json")
        command = [
            sys.executable,
            "-m",
            "aifx_core",
            "submit",
            str(tmp_path / "long.json"),
            "--server",
            srv.url,
        ]
        submit = subprocess.Popen(
            [*command, "--json-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert submit.stdout is not None
        for line in submit.stdout:  # (the worker holds the job after this frame until go exists)
            if json.loads(line).get("frame") == 2:
                break
        client = srv.client(None)
        for index in range(3):
            short = shot_job(area / "short", area / f"out_q{index}" / "c.####.exr")
            queued = client.submit(short.to_dict())["id"]
            assert client.cancel(queued)["state"] == "cancelled"
        go.touch()
        rest, err = submit.communicate(timeout=120)
        assert submit.returncode == 0, err
        assert json.loads(rest.splitlines()[-1])["event"] == "done"
        long_id = err.split("aifx: job ")[1].split()[0]
        assert client.job(long_id)["state"] == "done"
        assert len(client.jobs()["jobs"]) == 2  # the two that finished last: the long job and the last cancel
    finally:
        if submit is not None and submit.poll() is None:
            submit.kill()
        srv.stop()
    assert len(list((area / "out").glob("c.*.exr"))) == 6
