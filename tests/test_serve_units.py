"""The server's parts that need no server: tokens, the fair queue, path mapping, the loopback rule."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import sys

import pytest
from shot_files import interruptible

from aifx_core.errors import InputError
from aifx_core.protocol.errors import EXIT_CANCELLED
from aifx_core.protocol.job import FillJob
from aifx_core.serve.auth import TokenFile, add_token
from aifx_core.serve.paths import (
    PathRefused,
    PathRule,
    check_roots,
    load_path_map,
    map_job,
    map_path,
    option_paths,
)
from aifx_core.serve.store import Limits, QueueFull, Store


def test_token_add_stores_only_a_hash_and_rotates(tmp_path):
    file = tmp_path / "tokens"
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "serve", "token", "add", "alice", "--token-file", str(file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert len(token) >= 32 and token not in file.read_text()
    assert file.read_text().strip() == f"alice sha256:{hashlib.sha256(token.encode()).hexdigest()}"
    assert file.stat().st_mode & 0o077 == 0  # not readable by others
    tokens = TokenFile(file)
    assert tokens.user_for(token).name == "alice"
    assert (
        tokens.user_for(token + "x") is None and tokens.user_for("") is None and tokens.user_for(None) is None
    )
    add_token(file, "bob")
    rotated = add_token(file, "alice")  # rotation replaces alice's entry: the old token stops working
    assert tokens.user_for(rotated).name == "alice" and tokens.user_for(token) is None
    assert tokens.users == ["bob", "alice"]


def test_serve_help_shows_token_add_as_a_command_of_its_own_with_its_arguments_described():
    """aifx serve's usage ended in 'token ...' as if every start needed it, and 'aifx serve token add --help'
    showed '--token-file TOKEN_FILE_ADD' and 'name' with no word on either."""

    def shown(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "aifx_core", "serve", *args, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    usage = shown().split("\n\n")[0].splitlines()
    assert usage == ["usage: aifx serve [options]", "       aifx serve token add NAME --token-file FILE"]
    add = " ".join(shown("token", "add").split())
    assert add.startswith("usage: aifx serve token add [-h] --token-file FILE NAME ")
    assert "TOKEN_FILE_ADD" not in add
    assert "NAME the user's name" in add and "--token-file FILE the token file aifx serve --token-file" in add


def test_rotation_is_seen_where_file_times_count_whole_seconds(tmp_path):
    """NFS, SMB, ext3: the rotated file (a new one renamed in, a line of the same length) can carry the old
    file's modification time; the old token must stop working all the same."""
    file = tmp_path / "tokens"
    old = add_token(file, "alice")
    before = file.stat()
    tokens = TokenFile(file)
    new = add_token(file, "alice")
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same second, as such storage keeps it
    assert file.stat().st_size == before.st_size
    assert tokens.user_for(old) is None and tokens.user_for(new).name == "alice"


def test_every_entry_is_compared_in_constant_time(tmp_path, monkeypatch):
    file = tmp_path / "tokens"
    file.write_text("a one\nb two\nc three\n")
    tokens = TokenFile(file)
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda x, y: calls.append((x, y)) or real(x, y))
    for token in ("one", "three", "nobody"):
        calls.clear()
        tokens.user_for(token)
        assert len(calls) == 3  # no early exit on a match or on a length difference
        assert all(len(x) == len(y) == 64 for x, y in calls)  # digests, not the raw tokens


def test_bad_token_file_lines_are_named(tmp_path):
    file = tmp_path / "tokens"
    file.write_text("alice\n")
    with pytest.raises(InputError, match=r"tokens:1: expected 'NAME TOKEN'"):
        TokenFile(file)
    file.write_text("alice sha256:xyz\n")
    with pytest.raises(InputError, match="64 hex digits"):
        TokenFile(file)


def _submit(store, user, n=1):
    return [store.submit(user, {"input": f"{user}{i}", "output": "o"})[0]["id"] for i in range(n)]


def test_round_robin_between_users(tmp_path):
    store = Store(tmp_path, Limits(max_queue=50, per_user=10))
    a = _submit(store, "anna", 4)
    b = _submit(store, "ben", 1)
    c = _submit(store, "cara", 2)
    order = []
    while (job := store.claim_next()) is not None:
        order.append(job["id"])
        store.add_event(job["id"], {"event": "done", "output": "o", "written": [], "skipped": []})
    assert order == [a[0], b[0], c[0], a[1], c[1], a[2], a[3]]


def test_positions_and_bounds(tmp_path):
    store = Store(tmp_path, Limits(max_queue=3, per_user=2))
    a = _submit(store, "anna", 2)
    with pytest.raises(QueueFull, match="you have 2 jobs waiting") as info:
        _submit(store, "anna")
    assert info.value.retry_after >= 1
    b = _submit(store, "ben")
    assert [store.position(i) for i in (a[0], b[0], a[1])] == [0, 1, 2]
    with pytest.raises(QueueFull, match="queue is full"):
        _submit(store, "cara")


def test_history_is_capped(tmp_path):
    store = Store(tmp_path, Limits(max_queue=50, per_user=50, history=3))
    ids = _submit(store, "anna", 6)
    for _ in ids:
        job = store.claim_next()
        store.add_event(job["id"], {"event": "progress", "stage": "write", "index": 1, "total": 1})
        store.add_event(job["id"], {"event": "done", "output": "o", "written": [1], "skipped": []})
    records, total = store.list("anna", 50, 0)
    assert total == 3 and [r["id"] for r in records] == ids[:2:-1]
    assert store.events_after(ids[0], 0) == []


def test_history_keeps_the_jobs_that_finished_last(tmp_path):
    """A long job that ends after two jobs queued behind it were cancelled: cut by submission order, its own
    ``done`` dropped it (and its events) at once."""
    store = Store(tmp_path, Limits(max_queue=50, per_user=50, history=2))
    long_job, first, second = _submit(store, "anna", 3)
    assert store.claim_next()["id"] == long_job
    for job_id in (first, second):
        assert store.request_cancel(job_id) == "cancelled"
    store.add_event(long_job, {"event": "done", "output": "o", "written": [1], "skipped": []})
    assert store.get(long_job)["state"] == "done" and store.events_after(long_job, 0) != []
    records, total = store.list("anna", 50, 0)
    assert total == 2 and [r["id"] for r in records] == [second, long_job]
    assert store.get(first) is None


def test_restart_requeues_running_jobs_first(tmp_path):
    store = Store(tmp_path)
    first, second = _submit(store, "anna", 2)
    assert store.claim_next()["id"] == first
    store.close()
    again = Store(tmp_path)
    assert again.recover() == [first]
    assert again.get(first)["state"] == "queued"
    assert again.claim_next()["id"] == first and again.claim_next()["id"] == second


def test_restart_ends_a_running_job_whose_cancel_was_asked_for(tmp_path):
    """A cancel sent while the worker was busy, then the server killed: the restart must not run it again."""
    store = Store(tmp_path)
    cancelled, other = _submit(store, "anna", 2)
    assert store.claim_next()["id"] == cancelled
    assert store.request_cancel(cancelled) == "running"
    store.close()
    again = Store(tmp_path)
    assert again.recover() == []
    record = again.get(cancelled)
    assert record["state"] == "cancelled" and record["error"]["event"] == "cancelled"
    assert again.claim_next()["id"] == other and again.claim_next() is None


def test_relative_file_options_are_made_absolute_where_the_job_was_made(tmp_path, monkeypatch):
    """aifx submit and Ray made the job's fields absolute but not a model or reference given relative (the
    docs' ``--model ./Wan2.1-...``): the server refused it, a Ray worker looked in its own folder."""
    from aifx_core.serve.paths import absolute_options

    monkeypatch.chdir(tmp_path)
    (tmp_path / "Wan-VACE").mkdir()
    options = {"model": "Wan-VACE", "reference": "./ref.png", "config": "org/name", "steps": 4}
    job = absolute_options(FillJob(input="/a/p.####.exr", output="/a/o.####.exr", options=options))
    assert job.options == {
        **options,
        "model": str(tmp_path / "Wan-VACE"),
        "reference": str(tmp_path / "ref.png"),
    }


def test_one_rule_makes_file_options_absolute_for_the_resume_key_and_a_job_sent_elsewhere(
    tmp_path, monkeypatch
):
    """The pipeline's resume key and ``absolute_options`` each spelled the rule out: one helper beside
    ``option_paths`` gives every file option absolute (hub ids left out), and a job sent elsewhere takes the
    relative ones from it."""
    from aifx_core.inpaint.models import absolute_option_paths
    from aifx_core.serve.paths import absolute_options

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "artist"))
    options = {"model": "~/m/big-lama.pt", "reference": "/r/ref.png", "config": "org/name", "steps": 4}
    assert absolute_option_paths(options) == {
        "model": str(tmp_path / "artist" / "m" / "big-lama.pt"),
        "reference": "/r/ref.png",
    }
    sent = absolute_options(FillJob(input="/a/p.####.exr", output="/a/o.####.exr", options=options))
    assert sent.options == {**options, **absolute_option_paths(options)}


def test_a_home_folder_path_is_expanded_where_the_job_was_made(tmp_path, monkeypatch):
    """A ``~`` in a plate or model path counted as absolute and travelled as typed: the server (or a Ray
    worker) read it as its own user's home. aifx submit and Ray now send the submitting user's home, and a
    server handed a ``~`` path refuses it in one line."""
    from aifx_core.protocol.job import absolute_paths
    from aifx_core.serve.paths import absolute_options, check_absolute

    monkeypatch.setenv("HOME", str(tmp_path / "artist"))
    job = FillJob(
        input="~/s/p.####.exr", output="/a/o.####.exr", backend="lama", options={"model": "~/m/big-lama.pt"}
    )
    sent = absolute_options(absolute_paths(job))
    assert sent.input == str(tmp_path / "artist" / "s" / "p.####.exr")
    assert sent.options["model"] == str(tmp_path / "artist" / "m" / "big-lama.pt")
    check_absolute(sent)
    with pytest.raises(
        InputError, match=r"^input path ~/s/p.####.exr starts with ~, which the server would read"
    ):
        check_absolute(job)


def test_windows_paths_in_fields_and_file_options_travel_as_they_are_for_the_path_map(tmp_path, monkeypatch):
    """``aifx submit`` off Windows glued its working folder onto a Windows path (a field or a ``--model``):
    ``/cwd/Z:\\models\\big-lama.pt``, which no ``--path-map`` rule maps. Drive and UNC paths are left as they are;
    a relative path is still made absolute."""
    from aifx_core.protocol.job import absolute_paths
    from aifx_core.serve.paths import absolute_options

    monkeypatch.chdir(tmp_path)
    options = {"model": "Z:\\models\\big-lama.pt", "reference": "\\\\fs\\refs\\ref.png"}
    job = FillJob(input="Z:\\shots\\p.####.exr", output="out/o.####.exr", backend="lama", options=options)
    sent = absolute_options(absolute_paths(job))
    assert (sent.input, sent.output, sent.options) == (
        job.input,
        str(tmp_path / "out" / "o.####.exr"),
        options,
    )


def test_path_mapping_rules(tmp_path):
    file = tmp_path / "map.json"
    file.write_text(
        '{"version": "pathmapping-1.0", "path_mapping_rules": ['
        '{"source_path_format": "WINDOWS", "source_path": "Z:\\\\shots", "destination_path": "/mnt/shots"},'
        '{"source_path_format": "WINDOWS", "source_path": "Z:\\\\shots\\\\hero", "destination_path": "/fast/hero"},'
        '{"source_path_format": "POSIX", "source_path": "/Volumes/shots", "destination_path": "/mnt/shots"}]}'
    )
    rules = load_path_map(file)
    assert map_path("Z:\\shots\\a\\plate.####.exr", rules) == "/mnt/shots/a/plate.####.exr"
    assert map_path("z:/Shots/HERO/p.%04d.exr", rules) == "/fast/hero/p.%04d.exr"  # longest source wins
    assert map_path("/Volumes/shots/b/c.exr", rules) == "/mnt/shots/b/c.exr"
    assert map_path("/Volumes/shotsX/c.exr", rules) == "/Volumes/shotsX/c.exr"  # whole components only
    assert map_path("/Volumes/Shots/c.exr", rules) == "/Volumes/Shots/c.exr"  # POSIX is case-sensitive
    assert PathRule("POSIX", "/a", "/b").apply("/a") == "/b"
    file.write_text('{"version": "pathmapping-2.0", "path_mapping_rules": []}')
    with pytest.raises(InputError, match="pathmapping-1.0"):
        load_path_map(file)


def test_file_options_are_paths_and_hub_ids_are_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "local").mkdir()  # a relative folder the worker would load as a local model
    assert option_paths({"model": "org/name", "config": "org/cfg", "steps": 4}) == {}
    assert option_paths({"model": "org/local"}) == {"model": "org/local"}
    paths = {
        "model": "Z:\\models\\sd.safetensors",
        "config": "/m/cfg",
        "cache_dir": "hf",
        "reference": "r.png",
    }
    assert option_paths(paths) == paths  # a cache folder or a reference image is always a path
    rules = [PathRule("WINDOWS", "Z:\\models", "/mnt/models")]
    job = FillJob(
        input="/s/p.####.exr", output="/s/o.####.exr", options={"model": paths["model"], "steps": 4}
    )
    assert map_job(job, rules).options == {"model": "/mnt/models/sd.safetensors", "steps": 4}
    assert job.options["model"] == paths["model"]  # the submitted job is not changed in place
    with pytest.raises(PathRefused, match=r"^option cache_dir hf: the server needs absolute paths"):
        check_roots(
            FillJob(
                input=str(tmp_path / "p.exr"), output=str(tmp_path / "o.exr"), options={"cache_dir": "hf"}
            ),
            [tmp_path],
        )


def test_refuses_a_public_host_without_a_token_file(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "serve", "--host", "0.0.0.0", "--state", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--token-file" in done.stderr and "Traceback" not in done.stderr


def test_the_server_and_its_guard_take_the_same_names_for_loopback(tmp_path):
    """``--host localhost.`` asked for --token-file while the guard answered ``Host: localhost.`` as local."""
    from aifx_core.serve.guard import is_loopback_host

    for host in ("localhost", "localhost.", "LOCALHOST", "127.0.0.1", "127.0.0.2", "::1", "[::1]:8765"):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "::", "10.0.0.5", "localhost.evil.example", "farm-01"):
        assert not is_loopback_host(host), host
    # --port 99999 is refused after the host check: which line comes says what the host check decided.
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "serve", "--host", "localhost.", "--port", "99999"]
        + ["--state", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--port 99999: expected 1-65535" in done.stderr, done.stderr


def test_bad_server_flags_are_refused_in_one_line(tmp_path):
    """A port out of range was a traceback (exit 1); a GPU the machine does not have started a worker that
    said ``cuda:7`` and ran on the CPU."""
    cases = {
        ("--port", "99999"): "--port 99999: expected 1-65535 (or 0, which picks a free one)",
        ("--workers", "-2"): "--workers -2: expected auto, cpu or GPU indices such as 0,1",
        ("--workers", "7"): "--workers 7: this machine has no GPU 7 (torch sees ",
        ("--idle-unload", "-1"): "--idle-unload -1: expected seconds, 0 or more",
        # nan was taken and the server started (a timer that never compares true); inf overflows the waits.
        ("--idle-unload", "nan"): "--idle-unload nan: expected seconds, 0 or more",
        ("--idle-unload", "inf"): "--idle-unload inf: expected seconds, 0 or more",
        ("--heartbeat", "nan"): "--heartbeat nan: expected seconds, more than 0",
        ("--header-timeout", "-1"): "--header-timeout -1: expected seconds, more than 0",
        ("--body-timeout", "inf"): "--body-timeout inf: expected seconds, more than 0",
    }
    for flags, message in cases.items():
        done = subprocess.run(
            [sys.executable, "-m", "aifx_core", "serve", "--port", "0", *flags, "--state", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert f"aifx: error: {message}" in done.stderr, done.stderr


@pytest.mark.parametrize("rules", ["", "  "])
def test_an_empty_path_map_is_refused_before_the_server_starts(tmp_path, rules):
    """``aifx serve --path-map "$RULES"`` with RULES unset started a server with no path-mapping rules, without
    a word, so every artist's Windows path was refused later, job by job (a blank one failed reading a file
    named "  "). It is refused as ``aifx run --path-map ""`` is, before the state folder is used: the --state
    given here is a file, which a server that went on would have been refused for instead."""
    afile = tmp_path / "afile"
    afile.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "serve", "--port", "0", "--workers", "cpu", "--path-map", rules]
        + ["--state", str(afile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().startswith(
        'aifx: error: the rules file path is empty (--path-map ""); leave it out '
    )
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_worker_gpus_are_the_ones_this_process_sees_in_the_machines_numbering():
    """``--workers`` names GPUs as this process sees them; a server kept to GPUs 2,3 by its own
    CUDA_VISIBLE_DEVICES gives its workers those (a worker told ``0`` would get the machine's GPU 0)."""
    from aifx_core.serve.pool import worker_devices

    two = lambda: ["0", "1"]  # noqa: E731 - what torch sees with CUDA_VISIBLE_DEVICES=2,3
    narrowed = {"CUDA_VISIBLE_DEVICES": "2,3"}
    assert worker_devices("auto", two, narrowed) == ["2", "3"]
    assert worker_devices("1", two, narrowed) == ["3"]
    assert worker_devices("0,1", two, {}) == ["0", "1"]
    assert worker_devices("auto", lambda: [], {}) == [None] and worker_devices("cpu", two, {}) == [""]
    for spec, message in {
        "0,0": "GPU 0 named twice",
        "1,2": "this machine has no GPU 2 (torch sees GPUs 0,1)",
        "gpu1": "expected auto, cpu or GPU indices",
        ",": "expected auto, cpu or GPU indices",
    }.items():
        with pytest.raises(InputError, match=re.escape(message)):
            worker_devices(spec, two, narrowed)


def test_a_cancel_no_server_gets_is_retried_then_given_up(tmp_path):
    """``aifx submit``'s cancel keeps trying while nobody answers, then says so (the caller prints that the
    job may still run there) instead of raising 'cannot reach'."""
    import socket
    import time

    from aifx_core.protocol.remote import RemoteClient
    from aifx_core.submit import _cancel

    # (a port bound and never listened on: connections are refused, and no other process, another test's
    # server on this machine, can take it meanwhile, as it could once a probed port was let go)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        start = time.monotonic()
        assert _cancel(RemoteClient(f"http://127.0.0.1:{port}", timeout=2), "job1", patience=1.2) is False
        assert 1.2 < time.monotonic() - start < 30  # (the upper bound: a guard against a hang only)


_SECOND_CTRL_C = """
import os, signal, socket, sys, threading
from aifx_core.protocol.remote import RemoteClient
from aifx_core.submit import _follow

# (a port bound and never listened on, held to the end: the events and the cancel are both refused and
# retried, and no other process can take the port meanwhile)
with socket.socket() as sock:
    sock.bind(("127.0.0.1", 0))
    client = RemoteClient(f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=2)
    for delay in (0.3, 1.5):
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
    code = _follow(client, "job1", json_progress=False)
    print(f"exit {code} url {client.url}", file=sys.stderr)
"""


def test_a_second_ctrl_c_while_the_cancel_is_retried_says_the_user_stopped_waiting():
    """The second Ctrl+C during the cancel's retries said 'could not reach ... to cancel', as if aifx had
    given up: the user chose to stop waiting, and the job may still run on the server.

    Run in a child that takes Ctrl+C as a terminal's would (:func:`shot_files.interruptible`): a landing run and
    the CI dry run, started in the background, ignored SIGINT, the test's interpreter inherited that, Python
    then never installed KeyboardInterrupt, and neither SIGINT was seen for the 300 s patience (it passed when
    run from a terminal). The scenario itself needs a fresh interpreter for that handler to be installed."""
    done = subprocess.run(
        [sys.executable, "-c", _SECOND_CTRL_C],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=interruptible,
    )
    err = done.stderr
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert last.startswith(f"exit {EXIT_CANCELLED} url "), err
    url = last.split(" url ", 1)[1]
    assert "cancelling job job1" in err and "could not reach" not in err
    assert f"stopped waiting; the cancel has not reached {url}, so job job1 may still run" in err


def test_a_host_that_cannot_be_bound_is_named_and_a_taken_port_is_the_ports(tmp_path):
    """'nosuchhost.invalid' (a typo) and an address of another machine were both 'pick another --port'."""
    import socket

    tokens = tmp_path / "tokens"
    tokens.write_text("alice alice-token\n")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = str(taken.getsockname()[1])
    public = ("--token-file", str(tokens), "--root", str(tmp_path))
    cases = {
        ("--host", "nosuchhost.invalid", *public): "--host nosuchhost.invalid: no such host (",
        ("--host", "192.0.2.1", *public): "--host 192.0.2.1: not an address of this machine (",
        ("--port", port): f"cannot listen on 127.0.0.1:{port} (Address already in use); pick another --port",
    }
    try:
        for flags, message in cases.items():
            done = subprocess.run(
                [sys.executable, "-m", "aifx_core", "serve", "--workers", "cpu", *flags]
                + ["--state", str(tmp_path / "state")],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
            assert f"aifx: error: {message}" in done.stderr, done.stderr
    finally:
        taken.close()


def test_token_files_that_cannot_be_read_or_written_are_one_line_errors(tmp_path):
    def token_add(file):
        command = [
            sys.executable,
            "-m",
            "aifx_core",
            "serve",
            "token",
            "add",
            "bob",
            "--token-file",
            str(file),
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    for file, words in (
        (tmp_path / "nodir" / "tokens", "cannot write the token file (No such file or directory)"),
        (tmp_path, "cannot read the token file (Is a directory)"),
    ):
        done = token_add(file)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip() == f"aifx: error: {file}: {done.stderr.split(': ', 3)[-1].strip()}"
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
    utf16 = tmp_path / "tokens16"
    utf16.write_text("alice secret\n", encoding="utf-16")
    done = token_add(utf16)
    assert done.returncode == 2 and "not UTF-8 text" in done.stderr and "Traceback" not in done.stderr
    serve = [sys.executable, "-m", "aifx_core", "serve", "--port", "0", "--state", str(tmp_path / "st")]
    done = subprocess.run([*serve, "--token-file", str(utf16)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"{utf16}: the token file is not UTF-8 text" in done.stderr and "save it as UTF-8" in done.stderr
    # A UTF-8 file that begins with a byte-order mark (Notepad's UTF-8) is read.
    utf16.write_text("alice secret\n", encoding="utf-8-sig")
    assert TokenFile(utf16).user_for("secret").name == "alice"


def test_a_running_server_keeps_its_users_when_the_token_file_turns_unreadable(tmp_path, caplog):
    file = tmp_path / "tokens"
    token = add_token(file, "alice")
    tokens = TokenFile(file)
    text = file.read_text()
    file.write_text(text, encoding="utf-16")  # re-saved by a Windows editor as 'Unicode'
    assert tokens.user_for(token).name == "alice"  # the last good list, not an error on every request
    assert "not UTF-8 text" in caplog.text and "keeping the users read before" in caplog.text
    caplog.clear()
    assert tokens.user_for(token).name == "alice" and not caplog.text  # said once, not per request
    file.write_text(text + "bob sha256:" + "0" * 64 + "\n")  # saved right again: read again
    assert tokens.user_for(token).name == "alice" and tokens.users == ["alice", "bob"]


def test_a_worker_killed_after_its_cancels_grace_is_logged_as_the_servers_kill(tmp_path, caplog):
    """A cancelled job whose worker did not stop within the cancel's grace was killed by the pool itself, and
    the log then said 'killed by SIGKILL; the system's out-of-memory killer sends it: see journalctl -k', sending
    the admin after a memory problem there was none of. The line now says the server killed it after the grace.
    The worker (a real runner) is stopped with SIGSTOP once the job runs, so it cannot answer the cancel."""
    import signal

    from serve_helpers import wait_for
    from shot_files import make_shot, shot_job

    from aifx_core.serve.pool import Pool

    shot = make_shot(tmp_path / "shot", range(1, 121))
    store = Store(tmp_path / "state")
    pool = Pool(store, [""], cancel_grace=0.5)
    caplog.set_level("INFO", logger="aifx.serve")
    try:
        pool.start()
        job_id = store.submit("local", shot_job(shot, tmp_path / "out" / "c.####.exr").to_dict())[0]["id"]
        wait_for(lambda: store.last_seq(job_id) >= 2, timeout=60)
        pid = pool.workers[0].proc.pid
        os.kill(pid, signal.SIGSTOP)
        assert pool.cancel(job_id) == "running"
        wait_for(lambda: store.get(job_id)["state"] not in ("queued", "running"), timeout=60)
        assert store.get(job_id)["state"] == "cancelled"
        died = wait_for(
            lambda: [r.getMessage() for r in caplog.records if f"(pid {pid}) died" in r.getMessage()]
        )
        assert died == [
            f"worker cpu (pid {pid}) died while running job {job_id} (exit code -9: killed by this server after "
            "its cancel's grace (0.5s)); the job is cancelled, a new worker starts"
        ]
    finally:
        pool.stop()
        store.close()


def test_a_state_folder_that_cannot_be_used_is_named_and_versions_are_printed(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    serve = [sys.executable, "-m", "aifx_core", "serve", "--port", "0", "--workers", "cpu", "--state"]
    for state, words in ((afile, "a file, not a folder"), (afile / "st", "cannot use it for the queue")):
        done = subprocess.run([*serve, str(state)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.strip().startswith(f"aifx: error: --state {state}: ") and words in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    for command in ("serve", "submit"):
        done = subprocess.run(
            [sys.executable, "-m", "aifx_core", command, "--version"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0 and done.stdout.startswith("aifx "), done.stderr
