"""A real ``aifx serve`` on 127.0.0.1 (ephemeral port) for the server tests, and a tiny raw HTTP helper."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from aifx_core.protocol.remote import RemoteClient

TOKENS = {"alice": "alice-token", "bob": "bob-token", "admin": "admin-token"}


def write_tokens(path: Path) -> Path:
    """alice as a plain token, bob and admin hashed, as ``aifx serve token add`` writes them."""
    import hashlib

    lines = ["# test users", f"alice {TOKENS['alice']}"]
    for name in ("bob", "admin"):
        lines.append(f"{name} sha256:{hashlib.sha256(TOKENS[name].encode()).hexdigest()}")
    path.write_text("\n".join(lines) + "\n")
    return path


class Server:
    """``python -m aifx_core serve --port 0 ...`` as a subprocess; ``url`` once it listens."""

    def __init__(self, state: Path, *args: str, group: bool = False) -> None:
        """``group``: the server leads a process group of its own (as a systemd service's processes are
        together in one control group), for :meth:`stop_group`."""
        self.group = group
        self.command = [sys.executable, "-m", "aifx_core", "serve", "--port", "0", "--state", str(state)]
        self.command += ["--workers", "cpu", *args]
        self.log: list[str] = []
        self.url = ""
        self.proc: subprocess.Popen | None = None
        #: More ``subprocess.Popen`` arguments (a ``preexec_fn`` setting a limit).
        self.start_options: dict = {}

    def start(self, timeout: float = 90.0) -> Server:
        self.proc = subprocess.Popen(
            self.command,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            start_new_session=self.group,
            **self.start_options,
        )
        ready = threading.Event()

        def read() -> None:
            assert self.proc and self.proc.stderr
            for line in self.proc.stderr:
                self.log.append(line.rstrip())
                if "listening on " in line:
                    self.url = line.split("listening on ")[1].split()[0]
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        ready.wait(timeout)
        if not self.url:
            self.stop()
            raise AssertionError("server did not start:\n" + "\n".join(self.log))
        return self

    def client(self, user: str | None = "alice") -> RemoteClient:
        return RemoteClient(self.url, TOKENS.get(user or ""), timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop_group(self, timeout: float = 30.0) -> int:
        """SIGTERM to every process in the server's group at once (systemd's KillMode=control-group stop);
        the server's exit status."""
        assert self.proc is not None and self.group
        os.killpg(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def http(method: str, url: str, user: str | None = None, body=None, headers=None, token: str | None = None):
    """(status, headers, parsed JSON body) without any client logic in between."""
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    request = urllib.request.Request(url, data=data, method=method)
    secret = token or (TOKENS[user] if user else None)
    if secret:
        request.add_header("Authorization", f"Bearer {secret}")
    if data is not None:  # as RemoteClient sends a job (a header below may replace it)
        request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read() or b"{}")


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy (bounded); returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


class SignalAtQueued:
    """A TCP proxy in front of the server (as a studio's reverse proxy stands) that, when the server answers a
    ``POST /v1/jobs`` with its 202, sends ``signal`` to process ``pid`` and lets the answer through only once the
    signal has been taken: the job is queued on the server and aifx submit has not read its id yet, the
    window a farm's cancel used to fall into (an ordinary run hits it a few times in a hundred). ``answer``:
    another status line to wait for instead (a 429: the signal lands while the refused send is in flight).
    ``on_fire``: called just before the signal is sent (what the server does next, as the answer is held)."""

    def __init__(
        self,
        target: str,
        sig: int,
        answer: bytes = b"HTTP/1.1 202",
        on_fire: Callable[[], None] | None = None,
    ) -> None:
        import socket
        import threading

        self.target = target.split("//")[1].split(":")
        self.sig, self.pid, self.fired, self.answer = sig, 0, threading.Event(), answer
        self.on_fire = on_fire
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection((self.target[0], int(self.target[1])))
            asked: list[bytes] = []
            threading.Thread(target=self._pump, args=(client, server, asked, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, asked, True), daemon=True).start()

    def _pump(self, source, sink, asked: list[bytes], answers: bool) -> None:
        try:
            while data := source.recv(65536):
                if not answers:
                    asked.append(data)
                elif (
                    not self.fired.is_set()
                    and data.startswith(self.answer)
                    and b"".join(asked).startswith(b"POST /v1/jobs")
                ):
                    self.fired.set()
                    if self.on_fire is not None:
                        self.on_fire()
                    os.kill(self.pid, self.sig)
                    signal_taken_by(self.pid, self.sig)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(2)

    def close(self) -> None:
        self.listener.close()


def signal_taken_by(pid: int, sig: int) -> None:
    """Wait (bounded) until process ``pid`` no longer has ``sig`` pending: it took it, or it ended."""
    bit = 1 << (sig - 1)
    for _ in range(3000):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        if "State:\tZ" in status or not any(
            int(line.split()[1], 16) & bit
            for line in status.splitlines()
            if line.startswith(("SigPnd", "ShdPnd"))
        ):
            return
        time.sleep(0.01)
