"""The protocol floor: standard library only, Python 3.9, one copy per adapter kept byte-identical."""

from __future__ import annotations

import ast
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aifx_core.protocol import events

REPO = Path(__file__).resolve().parents[1]
PROTOCOL = REPO / "src" / "aifx_core" / "protocol"
SYNC = REPO / "utils" / "sync_protocol.py"


def _sync_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_protocol", SYNC)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_adapter_copies_match_the_source():
    done = subprocess.run([sys.executable, str(SYNC), "--check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_sync_check_finds_drift_and_fix_repairs_it(tmp_path):
    sync = _sync_module()
    shutil.copytree(PROTOCOL, tmp_path / sync.SOURCE, ignore=shutil.ignore_patterns("__pycache__"))
    assert len(sync.drift(tmp_path)) == len(sync.COPIES) * len(sync.source_files(tmp_path))  # all missing
    sync.fix(tmp_path)
    assert sync.drift(tmp_path) == []
    copy = tmp_path / sync.COPIES[0]
    (copy / "job.py").write_text((copy / "job.py").read_text() + "\n# retyped by hand\n")
    (copy / "stale.py").write_text("")
    assert sorted(sync.drift(tmp_path)) == [
        f"{sync.COPIES[0] / 'job.py'}: differs from {sync.SOURCE / 'job.py'}",
        f"{sync.COPIES[0] / 'stale.py'}: not in {sync.SOURCE}",
    ]
    sync.fix(tmp_path)
    assert sync.drift(tmp_path) == [] and not (copy / "stale.py").exists()


def test_protocol_imports_only_the_standard_library_and_itself():
    for path in sorted(PROTOCOL.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 9))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, f"{path.name}: reaches outside the protocol package"
                continue
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {name}"


def _python39() -> str | None:
    found = [os.environ.get("AIFX_TEST_PYTHON39", "")] + sorted(
        glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9"))
    )
    return next((p for p in found if p and os.path.exists(p)), None)


def test_a_copy_runs_under_python_3_9_with_another_package_name(tmp_path):
    """Nuke 14 embeds Python 3.9 and the copy lives under another name: both must work."""
    python = _python39()
    if python is None:
        pytest.skip("no Python 3.9 on this machine (set AIFX_TEST_PYTHON39)")
    shutil.copytree(PROTOCOL, tmp_path / "dcc_protocol", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "from dcc_protocol import FillJob, InputError, events, client\n"
        "job = FillJob(input='a.####.exr', output='b.####.exr', options={'steps': 4})\n"
        "job.validate()\n"
        "assert FillJob.from_json(job.to_json()) == job\n"
        "try:\n"
        "    FillJob.from_dict({'input': 'a', 'output': 'b', 'seed': 'abc'})\n"
        "except InputError as exc:\n"
        "    print(exc)\n"
        "line = events.encode(events.ProgressEvent('write', 1, 2, 7).to_dict())\n"
        "print(events.describe(events.decode(line)), events.percent(events.decode(line), 10))\n"
        "print(client.worker_command('py', 'j.json')[-1])\n"
    )
    done = subprocess.run(
        [python, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": ""}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        'job field "seed" must be a whole number, got "abc"',
        "write 1/2 (frame 7) 55",
        "--json-progress",
    ]


def test_events_round_trip_and_junk_is_ignored():
    progress = events.ProgressEvent("write", 2, 4, 1002, "hi").to_dict()
    done = events.done_event("o.####.exr", [1, 2], [3], None)
    for event in (progress, done, events.error_event("bad", 2), events.cancelled_event("stop")):
        assert events.decode(events.encode(event) + "\n") == event
    for junk in ("", "warning: something", "{not json", "[1, 2]", '{"no": "kind"}'):
        assert events.decode(junk) is None
    assert events.is_final(done) and not events.is_final(progress)
    assert events.fraction(progress) == 0.5 and events.fraction(done) == 1.0
    assert events.fraction({**progress, "stage": "flow"}) is None
    assert events.describe(done) == "done: 2 frames written, 1 already done"
    assert events.describe(events.error_event("bad plate", 2)) == "error: bad plate"


def test_the_stages_a_fill_reports_are_the_documented_ones(tmp_path):
    """The event schema named stages ``flow`` and ``fill`` that nothing ever emits; an adapter written to it
    waited for them. A temporal fill of a locked-off shot reports its seen plate, anchors, propagate and write."""
    from chunk_files import chunk_job, chunk_shot

    from aifx_core import fill

    shot = chunk_shot(tmp_path / "shot", count=8)
    seen: list[str] = []
    fill(chunk_job(shot, tmp_path / "out"), progress=lambda event: seen.append(event.stage))
    assert set(seen) <= set(events.STAGES) and {"propagate", events.OVERALL_STAGE} <= set(seen)
    documented = (events.__doc__ or "") + (events.ProgressEvent.__doc__ or "")
    assert '``"flow"``' not in documented and '``"fill"``' not in documented
    assert "STAGES" in documented


def test_the_adapters_table_of_what_each_backend_reads_is_the_cores():
    """The adapters send only the options the chosen backend reads (protocol.backend_options, since they cannot
    import the core's options classes); the table must say what the registry's options classes say."""
    from dataclasses import fields

    from aifx_core import backends
    from aifx_core.protocol.backend_options import GENERAL, HOSTS_SPATIAL, READS, backend_reads

    # (the built-ins, as a fresh process lists them: other tests register backends of their own in this one)
    listed = subprocess.run(
        [sys.executable, "-c", "from aifx_core import backends; print(*backends.available_backends())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    built_in = listed.stdout.split()
    assert "propagate" in built_in and set(READS) == set(built_in)
    for name in built_in:
        backend = backends.get(name)
        cls = backend.options_class()
        assert cls is not None, name
        core = {f.name for f in fields(cls)} | set(backends._load(backend.accepts))
        assert READS.get(name) == core, (
            f"{name}: update protocol/backend_options.py, then sync_protocol --fix"
        )
        if backend.hosts_spatial:
            default = backends.spatial_name(backend, {})
            assert HOSTS_SPATIAL[name] == default
    assert set(GENERAL) == set(backends.GENERAL_OPTIONS)
    # the temporal engine reads its spatial backend's options too, its default's when none is named
    assert "model" not in backend_reads("propagate") and "prompt" in backend_reads("propagate", "diffusers")
    assert backend_reads("my-plugin") is None and backend_reads("propagate", "my-plugin") is None


@pytest.mark.parametrize(
    "url",
    [
        "gpu-box:8765",
        "localhost:8765",
        "http://[bad",
        "ftp://x/",
        "http://127.0.0.1:1/ with space",
        "http://h:port",
    ],
)
def test_a_bad_server_url_is_one_line_before_anything_is_sent(url):
    """``gpu-box:8765`` (no http://) and ``ftp://`` were refused, but ``http://[bad`` raised urlparse's ValueError and
    a space or a port that is not a number failed only inside urlopen, as tracebacks in Blender and Nuke."""
    from aifx_core.protocol.remote import RemoteClient, RemoteError

    with pytest.raises(RemoteError) as caught:
        RemoteClient(url)
    assert str(caught.value).startswith(f"server URL {url!r}") and "expected http(s)://HOST:PORT" in str(
        caught.value
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "url", ["http://user:s3cret@gpu-box:9", "http://user:s3cret@gpu-box:port", "https://s3cret@h:1"]
)
def test_a_server_url_with_a_login_is_refused_without_showing_the_password(url):
    """http://user:pw@host:9 was taken, and every error line after (connection refused, bad token) named the URL,
    password and all, in Blender's status bar and Nuke's log. A login in the URL is refused, the password hidden;
    a URL refused for another reason hides it too."""
    from aifx_core.protocol.remote import RemoteClient, RemoteError

    with pytest.raises(RemoteError) as caught:
        RemoteClient(url)
    message = str(caught.value)
    assert "s3cret" not in message and "\n" not in message, message
    assert message.startswith("server URL 'http") and "expected http(s)://HOST:PORT" in message
    assert caught.value.exit_code == 2


def test_good_server_urls_are_kept():
    from aifx_core.protocol.remote import RemoteClient

    assert RemoteClient("http://gpu-box:8765/").url == "http://gpu-box:8765"
    assert RemoteClient("https://[::1]:8765").url == "https://[::1]:8765"


def test_a_server_that_does_not_answer_json_is_a_remote_error():
    """Something else listening at the Server URL (a web page, a proxy's login) raised JSONDecodeError."""
    import http.server
    import threading

    from aifx_core.protocol.remote import RemoteClient, RemoteError

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(RemoteError, match="is not JSON; is it an aifx server"):
            RemoteClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=5).health()
    finally:
        server.shutdown()
        server.server_close()


def test_the_retry_rhythm_gives_up_after_its_patience_and_starts_over_on_an_answer():
    """One Backoff serves the event stream and ``aifx submit``'s cancel (they kept two copies of it)."""
    import time

    from aifx_core.protocol.remote import Backoff, server_away

    assert server_away(0) and server_away(503) and not server_away(404)
    # (patience 1 s: the first pause, 0.5 s, may overrun by up to 0.5 s on a busy machine and still be inside
    # it; the second ends at 1.5 s at the soonest, past it. With 0.6 s an overrun of 0.1 s gave up a try early.)
    backoff = Backoff(patience=1.0)
    start = time.monotonic()
    tries = 1
    while backoff.failed():
        tries += 1
    # paused 0.5 s, then 1 s, then gave up (the upper bound is a guard against a hang only)
    assert tries == 3 and 1.5 <= time.monotonic() - start < 30
    backoff.reset()
    assert backoff.failing_for == 0.0 and backoff.failed()


def test_the_output_types_the_adapters_check_are_the_ones_the_core_writes() -> None:
    """The Blender add-on refuses an output type at the press with protocol.frames' list; the core writes by
    imageio.FORMATS: one list, or the add-on would refuse a type the core writes (or pass one it cannot)."""
    from aifx_core.protocol.frames import IMAGE_EXTENSIONS
    from aifx_core.sequence.imageio import FORMATS

    assert sorted(IMAGE_EXTENSIONS) == sorted(FORMATS)
