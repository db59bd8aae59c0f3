"""``aifx serve`` for real: a uvicorn server on 127.0.0.1 with an ephemeral port, one CPU worker process,
real jobs on real EXR shots, and the stdlib client the adapters use."""

from __future__ import annotations

import contextlib
import http.client as httpclient
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from cli_runner import aifx
from serve_helpers import TOKENS, Server, SignalAtQueued, http, wait_for, write_tokens
from shot_files import interruptible, make_shot, read_exr, shot_job

from aifx_core.protocol.job import MAX_JOB_BYTES
from aifx_core.protocol.remote import RemoteError


@pytest.fixture(scope="module")
def area(tmp_path_factory):
    """The shared storage root, with one short and one long shot in it."""
    root = tmp_path_factory.mktemp("studio")
    make_shot(root / "short", range(1, 4))
    make_shot(root / "long", range(1, 121))  # held after its frame HELD (see ``server``)
    return root


#: The frame after which the server's worker holds every job on the long shot until the test lets it go
#: (``_let_go``), past the short shot's three. A long job left free ended before the test's cancel or kill
#: on a busy machine (the test reacts late) or a fast one; held, it cannot end before the test says so.
HELD = 4


@pytest.fixture(scope="module")
def server(area, tmp_path_factory):
    here = tmp_path_factory.mktemp("server")
    rules = {
        "version": "pathmapping-1.0",
        "path_mapping_rules": [
            {"source_path_format": "WINDOWS", "source_path": "Z:\\studio", "destination_path": str(area)},
        ],
    }
    (here / "map.json").write_text(json.dumps(rules))
    srv = Server(
        here / "state",
        "--token-file",
        str(write_tokens(here / "tokens")),
        "--root",
        str(area),
        "--path-map",
        str(here / "map.json"),
        "--heartbeat",
        "0.3",
    )
    srv.go = here / "go"
    # aifx's own test hook (manifest.fault_point): after writing frame HELD the worker waits for the file go.
    srv.start_options["env"] = {**os.environ, "AIFX_TEST_WAIT": f"written:{HELD}:{srv.go}"}
    yield srv.start()
    srv.stop()


def _let_go(server, *job_ids: str) -> None:
    """The long jobs ``job_ids``, held after frame HELD and now cancelled or killed by the test, go on to their
    end; the next long job is held again. Called only once the server has the cancel, so the job cannot
    finish before it, however fast or busy the machine."""
    client = server.client("admin")
    server.go.touch()
    try:
        for job_id in job_ids:
            wait_for(lambda: client.job(job_id)["state"] not in ("queued", "running"), timeout=120)  # noqa: B023
    finally:
        server.go.unlink()


def _frames(folder):
    return {p.name: read_exr(p)[1] for p in sorted(folder.glob("*.exr"))}


def _same_pixels(a, b):
    assert a.keys() == b.keys() and a
    for name in a:
        assert a[name].keys() == b[name].keys()
        for channel in a[name]:
            np.testing.assert_array_equal(a[name][channel], b[name][channel], err_msg=f"{name} {channel}")


def _events_until_final(client, job_id, **kwargs):
    return list(client.events(job_id, **kwargs))


# -- auth -----------------------------------------------------------------------------------------------------
def test_health_is_open_everything_else_needs_a_token(server, area):
    status, _, body = http("GET", server.url + "/v1/health")
    assert status == 200 and body["status"] == "ok"
    for method, path in (
        ("GET", "/v1/jobs"),
        ("GET", "/v1/models"),
        ("GET", "/v1/jobs/x"),
        ("DELETE", "/v1/jobs/x"),
        ("GET", "/v1/jobs/x/events"),
        ("POST", "/v1/jobs"),
    ):
        status, headers, _ = http(method, server.url + path, body={} if method == "POST" else None)
        assert status == 401, (method, path)
        assert headers["WWW-Authenticate"] == "Bearer"
        status, _, _ = http(method, server.url + path, token="alice-token-wrong")
        assert status == 401, (method, path)
    # A hashed entry (bob) and a plain one (alice) both work.
    assert http("GET", server.url + "/v1/jobs", "bob")[0] == 200
    assert http("GET", server.url + "/v1/jobs", "alice")[0] == 200


def test_another_users_job_is_404_and_cannot_be_cancelled(server, area, tmp_path):
    job = shot_job(area / "long", area / "out_cross" / "c.####.exr", backend="propagate")
    alice, bob = server.client("alice"), server.client("bob")
    job_id = alice.submit(job.to_dict())["id"]
    for method in ("GET", "DELETE"):
        status, _, body = http(method, f"{server.url}/v1/jobs/{job_id}", "bob")
        assert status == 404 and job_id in body["detail"]
    assert http("GET", f"{server.url}/v1/jobs/{job_id}/events", "bob")[0] == 404
    assert all(j["id"] != job_id for j in bob.jobs()["jobs"])
    assert any(j["id"] == job_id for j in server.client("admin").jobs()["jobs"])  # admin sees all
    record = alice.job(job_id)
    assert (
        record["state"] in ("queued", "running") and not record["cancel_requested"]
    )  # bob's DELETE did nothing
    alice.cancel(job_id)
    _let_go(server, job_id)
    assert _events_until_final(alice, job_id)[-1]["event"] == "cancelled"


# -- submit, progress, result ----------------------------------------------------------------------------------
def test_submit_streams_the_cli_events_and_writes_the_cli_frames(server, area, tmp_path):
    remote_out, local_out = area / "out_remote", tmp_path / "out_local"
    job = shot_job(area / "short", remote_out / "c.####.exr")
    client = server.client()
    answer = client.submit(job.to_dict())
    assert (
        set(answer) >= {"id", "position", "events"} and answer["events"] == f"/v1/jobs/{answer['id']}/events"
    )

    # Read the raw stream: ids count up, data lines are JSON objects, the stream closes after the final one.
    request = urllib.request.Request(
        server.url + answer["events"], headers={"Authorization": "Bearer alice-token"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        raw = response.read().decode()
    blocks = [b for b in raw.replace("\r\n", "\n").split("\n\n") if b.strip() and not b.startswith(":")]
    ids = [int(line[4:]) for b in blocks for line in b.splitlines() if line.startswith("id: ")]
    remote = [json.loads(line[6:]) for b in blocks for line in b.splitlines() if line.startswith("data: ")]
    assert ids == list(range(1, len(remote) + 1))
    assert remote[-1]["event"] == "done"
    record = client.job(answer["id"])
    assert record["state"] == "done" and record["result"] == remote[-1]

    job_file = tmp_path / "job.json"
    shot_job(area / "short", local_out / "c.####.exr").save(job_file)
    done = aifx("run", str(job_file), "--json-progress")
    assert done.returncode == 0, done.stderr
    local = [json.loads(line) for line in done.stdout.splitlines()]
    for event in local + remote:
        event.pop("output", None)
    assert remote == local  # exactly the --json-progress objects
    _same_pixels(_frames(remote_out), _frames(local_out))


def test_last_event_id_replays_only_what_came_after(server, area):
    client = server.client()
    job_id = client.submit(shot_job(area / "short", area / "out_replay" / "c.####.exr").to_dict())["id"]
    everything = _events_until_final(client, job_id)
    assert len(everything) >= 3
    assert _events_until_final(client, job_id, last_event_id=2) == everything[2:]


def test_idempotency_key_returns_the_same_job(server, area):
    job = shot_job(area / "short", area / "out_idem" / "c.####.exr").to_dict()
    client = server.client()
    first = client.submit(job, idempotency_key="retry-1")
    again = client.submit(job, idempotency_key="retry-1")
    assert first["id"] == again["id"]
    assert (
        server.client("bob").submit(job, idempotency_key="retry-1")["id"] != first["id"]
    )  # keys are per user
    for job_id in {first["id"]}:
        _events_until_final(client, job_id)
    assert (
        len([j for j in client.jobs(limit=500)["jobs"] if j["job"]["output"].endswith("out_idem/c.####.exr")])
        == 1
    )


def test_a_bad_job_is_422_with_the_cli_message(server, area, tmp_path):
    job = shot_job(area / "short", area / "out_bad" / "c.####.exr", threshold=2.0)
    status, _, body = http("POST", server.url + "/v1/jobs", "alice", job.to_dict())
    assert status == 422
    job.save(tmp_path / "bad.json")
    local = aifx("run", str(tmp_path / "bad.json"))
    assert local.returncode == 2
    # The same message; a local run also names the job file it read (the server's job came over HTTP).
    assert local.stderr.strip() == f"aifx: error: {tmp_path / 'bad.json'}: {body['detail']}"
    status, _, body = http("POST", server.url + "/v1/jobs", "alice", b"{not json")
    assert status == 422 and "not valid JSON" in body["detail"]
    # An oversized job is refused from its Content-Length, before the body is read: only the headers are sent
    # (sending the 2 MB body into a connection the server has already answered races with a broken pipe).
    connection = httpclient.HTTPConnection(server.url.split("//")[1], timeout=30)
    connection.putrequest("POST", "/v1/jobs")
    connection.putheader("Authorization", f"Bearer {TOKENS['alice']}")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(2_000_002))
    connection.endheaders()
    response = connection.getresponse()
    status, body = response.status, json.loads(response.read() or b"{}")
    connection.close()
    assert status == 413 and "never pixels" in body["detail"]
    # The size the docs give (they said 1 MiB, 1,048,576 bytes, of a limit of 1,000,000), in the same words.
    assert f"over {MAX_JOB_BYTES:,} bytes (1 MB)" in body["detail"]
    docs = Path(__file__).parents[1] / "docs" / "serve.md"
    assert f"413 for a body over {MAX_JOB_BYTES:,} bytes (1 MB)" in docs.read_text(encoding="utf-8")
    # A chunked upload has no Content-Length: it is refused once past the limit, before it ends (this one never
    # does: the server answered before its last chunk, so it did not read the body whole first).
    connection = httpclient.HTTPConnection(server.url.split("//")[1], timeout=30)
    connection.putrequest("POST", "/v1/jobs")
    connection.putheader("Authorization", f"Bearer {TOKENS['alice']}")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    piece = b"x" * 65536
    for _ in range(MAX_JOB_BYTES // len(piece) + 1):
        connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    response = connection.getresponse()
    status, body = response.status, json.loads(response.read() or b"{}")
    connection.close()
    assert status == 413 and "never pixels" in body["detail"]
    # A plate that is not there is refused at submit, with the message a local run gives.
    job = shot_job(area / "short", area / "out_bad" / "c.####.exr", frames="1-5")
    status, _, body = http("POST", server.url + "/v1/jobs", "alice", job.to_dict())
    assert status == 422 and body["exit_code"] == 2
    job.save(tmp_path / "gap.json")
    local = aifx("run", str(tmp_path / "gap.json"))
    assert local.returncode == 2 and local.stderr.strip() == f"aifx: error: {body['detail']}"


def test_a_path_with_a_lone_surrogate_escape_is_422_in_one_line(server, area, tmp_path):
    """``\\ud800`` in a job's JSON (valid JSON, a name no disk holds) was a 500 with a traceback in the server's
    log, and `aifx submit` exited 1, which a farm retries, instead of the 422 and exit 2 of any bad path. Under
    a folder of that name the roots check (which resolves the path) broke the same way. Any other text of the job
    holding one is refused as one line too (the job's check: preflight is aifx run's)."""
    env = {**os.environ, "AIFX_TOKEN": TOKENS["alice"]}
    good = shot_job(area / "short", area / "out_surrogate" / "c.####.exr").to_dict()
    lone = "holds a lone UTF-16 surrogate"
    cases = [
        ({"input": str(area / "short" / "plate.####\ud800.exr")}, lone),
        ({"input": str(area / "short\ud800" / "plate.####.exr")}, lone),
        ({"output": str(area / "out\ud800" / "c.####.exr")}, lone),
        (
            {"options": {"radius\ud800": 3}},
            'job field "options" (the option name "radius\\ud800") holds a lone',
        ),
        # Any text of the job, by the job's own check (aifx run ended in a traceback on this one, exit 1).
        ({"colorspace": "sRGB\ud800"}, 'job field "colorspace" ("sRGB\\ud800") holds a lone'),
    ]
    for index, (field, words) in enumerate(cases):
        job = {**good, **field}
        status, _, body = http("POST", server.url + "/v1/jobs", "alice", job)
        assert status == 422 and body["exit_code"] == 2, body
        assert words in body["detail"] and "\n" not in body["detail"], body
        (tmp_path / f"job{index}.json").write_text(json.dumps(job))  # (the escape, \\ud800, as sent)
        sent = aifx("submit", str(tmp_path / f"job{index}.json"), "--server", server.url, env=env)
        assert sent.returncode == 2 and "Traceback" not in sent.stderr, sent.stderr
        # Refused before it is sent (aifx submit checks the job as aifx run does), naming the job file.
        shown = body["detail"].encode("utf-8", "backslashreplace").decode()  # (as stderr has it)
        assert sent.stderr.strip() == f"aifx: error: {tmp_path / f'job{index}.json'}: {shown}", sent.stderr
    assert not any("Traceback" in line for line in server.log)
    assert not (area / "out_surrogate").exists()


@pytest.mark.parametrize(
    "settings, fragment",
    [
        ({"options": {"stepz": 3}}, "unknown option(s) stepz"),
        ({"backend": "diffusers", "options": {"model": "org/name", "steps": 0}}, "steps=0"),
        ({"backend": "propagate", "options": {"flow_preset": "warp9"}}, "flow_preset"),
        ({"backend": "no-such-backend"}, "no-such-backend"),
        ({"mask": "MISSING"}, "mask"),
        ({"output": "OUT/c.####.mov"}, "output has '.mov'"),
        # Queued (202) until 2026-12-07, then failed by the worker: fill()'s own checks, made at submit now.
        ({"compression": "zzz"}, "zzz"),
        ({"colorspace": "nope"}, "nope"),
        ({"mask_channel": "Z"}, "Z"),
        ({"output": "short/mask.####.png"}, "mask"),
        ({"contact_sheet": "AREA/short/mask.0002.png"}, "contact sheet"),
    ],
)
def test_options_mask_and_output_are_checked_at_submit_like_the_cli(
    server, area, tmp_path, settings, fragment
):
    """What ``aifx run`` refuses before any work is a 422 at submit with its message, never a queued job."""
    settings = dict(settings)
    output = area / settings.pop("output", "OUT/c.####.exr").replace("OUT", "out_submit")
    settings = {k: v.replace("AREA", str(area)) if isinstance(v, str) else v for k, v in settings.items()}
    job = shot_job(area / "short", output, **{k: v for k, v in settings.items() if k != "mask"})
    if settings.get("mask") == "MISSING":
        job.mask = str(area / "short" / "nomask.####.png")
    before = server.client("bob").jobs(limit=500)["total"]
    status, _, body = http("POST", server.url + "/v1/jobs", "bob", job.to_dict())
    assert status == 422 and body["exit_code"] == 2 and fragment in body["detail"], body
    assert server.client("bob").jobs(limit=500)["total"] == before  # nothing queued
    job.save(tmp_path / "bad.json")
    local = aifx("run", str(tmp_path / "bad.json"))
    assert local.returncode == 2 and local.stderr.strip() == f"aifx: error: {body['detail']}"


def test_list_is_own_jobs_paged(server, area):
    client = server.client("bob")
    ids = [
        client.submit(shot_job(area / "short", area / f"out_page{i}" / "c.####.exr").to_dict())["id"]
        for i in range(3)
    ]
    for job_id in ids:
        _events_until_final(client, job_id)
    first = client.jobs(limit=2)
    assert len(first["jobs"]) == 2 and first["next_offset"] == 2
    rest = client.jobs(limit=2, offset=first["next_offset"])
    seen = [j["id"] for j in first["jobs"] + rest["jobs"]]
    assert set(ids) <= set(seen) and len(seen) == len(set(seen)) == first["total"]
    assert all(j["user"] == "bob" for j in first["jobs"] + rest["jobs"])
    # Past SQLite's 64-bit range: a plain-text 500 and an OverflowError traceback in the log before.
    for offset in ("99999999999999999999", str(2**63)):
        status, _, body = http("GET", f"{server.url}/v1/jobs?offset={offset}", "bob")
        assert status == 200 and body["jobs"] == [] and body["next_offset"] is None, body
    assert not any("OverflowError" in line for line in server.log)


def test_heartbeat_comment_while_waiting(server, area):
    client = server.client()
    long_id = client.submit(
        shot_job(area / "long", area / "out_hb1" / "c.####.exr", backend="propagate").to_dict()
    )
    queued_id = client.submit(shot_job(area / "short", area / "out_hb2" / "c.####.exr").to_dict())["id"]
    request = urllib.request.Request(
        f"{server.url}/v1/jobs/{queued_id}/events", headers={"Authorization": "Bearer alice-token"}
    )
    comments = 0
    with urllib.request.urlopen(request, timeout=60) as response:
        for raw in response:
            if raw.startswith(b":"):
                comments += 1
                if comments == 2:
                    break
    assert comments == 2
    for job_id in (long_id["id"], queued_id):
        client.cancel(job_id)
    _let_go(server, long_id["id"], queued_id)


# -- cancel ---------------------------------------------------------------------------------------------------
def test_cancel_queued_and_running_jobs(server, area):
    client = server.client()
    out = area / "out_cancel"
    running = client.submit(shot_job(area / "long", out / "c.####.exr", backend="propagate").to_dict())["id"]
    queued = client.submit(shot_job(area / "short", area / "out_cancel_q" / "c.####.exr").to_dict())["id"]
    stream = client.events(running)
    first_write = next(e for e in stream if e.get("stage") == "write")
    assert first_write["index"] == 1
    client.cancel(queued)
    assert client.job(queued)["state"] == "cancelled"  # at once, it never started
    assert _events_until_final(client, queued)[-1]["event"] == "cancelled"
    started = time.monotonic()
    client.cancel(running)
    _let_go(server, running)
    rest = list(stream)
    # (the bound is a guard against a hang only: held, the job cannot end before the cancel anyway)
    assert rest[-1]["event"] == "cancelled" and time.monotonic() - started < 60
    record = client.job(running)
    assert record["state"] == "cancelled"
    written = sorted(out.glob("c.*.exr"))
    assert 0 < len(written) < 120  # finished frames are kept, and they are whole
    for path in written:
        read_exr(path)
    assert not (area / "out_cancel_q").exists() or not list((area / "out_cancel_q").glob("*.exr"))


# -- files ----------------------------------------------------------------------------------------------------
def test_paths_outside_the_roots_are_403(server, area, tmp_path):
    outside = make_shot(tmp_path / "elsewhere", range(1, 3))
    status, _, body = http(
        "POST", server.url + "/v1/jobs", "alice", shot_job(outside, area / "out_x" / "c.####.exr").to_dict()
    )
    assert status == 403 and str(outside / "plate.####.exr") in body["detail"]
    status, _, body = http(
        "POST",
        server.url + "/v1/jobs",
        "alice",
        shot_job(area / "short", tmp_path / "o" / "c.####.exr").to_dict(),
    )
    assert status == 403 and "output" in body["detail"] and str(tmp_path / "o") in body["detail"]
    # A symlink inside the root that points outside it is refused by where it points.
    (area / "sneaky").symlink_to(outside, target_is_directory=True)
    status, _, body = http(
        "POST",
        server.url + "/v1/jobs",
        "alice",
        shot_job(area / "sneaky", area / "out_y" / "c.####.exr").to_dict(),
    )
    assert status == 403 and "sneaky" in body["detail"] and str(outside) in body["detail"]
    # and so is a single frame file linked from outside.
    linked = area / "linked"
    linked.mkdir()
    for src in (area / "short").iterdir():
        (linked / src.name).symlink_to(src)
    (linked / "plate.0002.exr").unlink()
    (linked / "plate.0002.exr").symlink_to(outside / "plate.0002.exr")
    status, _, body = http(
        "POST", server.url + "/v1/jobs", "alice", shot_job(linked, area / "out_z" / "c.####.exr").to_dict()
    )
    assert status == 403 and "plate.####.exr" in body["detail"]


def test_side_files_linked_out_of_the_roots_are_403_and_what_they_name_is_untouched(server, area, tmp_path):
    """A link planted in an output folder under the root as the output's lock file (→ a token file outside every
    root) was accepted, and the job truncated that file and wrote the lock's owner record into it; a linked cache
    folder took the anchors cache out of the roots. The files aifx keeps beside the output (lock, manifest,
    cache folder, confidence folder), in every padding that names them, are checked as the job's paths are."""
    victim = tmp_path / "tokens"
    victim.write_text("precious\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cases = [
        ("out_link_lock", ".c.####.exr.aifx.lock", victim, "c.####.exr", {}),
        ("out_link_lock_spelled", ".c.####.exr.aifx.lock", victim, "c.%04d.exr", {}),
        ("out_link_manifest", ".c.####.exr.aifx.json", victim, "c.####.exr", {}),
        ("out_link_cache", ".c.####.exr.aifx-cache", elsewhere, "c.####.exr", {"backend": "propagate"}),
        ("out_link_confidence", "confidence", elsewhere, "c.####.png", {"confidence": True}),
    ]
    for folder, name, target, output, settings in cases:
        out = area / folder
        out.mkdir()
        (out / name).symlink_to(target, target_is_directory=target.is_dir())
        job = shot_job(area / "short", out / output, **settings)
        status, _, body = http("POST", server.url + "/v1/jobs", "alice", job.to_dict())
        assert status == 403, (name, body)
        assert str(out / name) in body["detail"] and f"resolves to {target}" in body["detail"], body
        assert "outside the server's roots" in body["detail"]
    # A link inside the cache folder (a key's folder) leads out too.
    out = area / "out_link_in_cache"
    (out / ".c.####.exr.aifx-cache").mkdir(parents=True)
    (out / ".c.####.exr.aifx-cache" / "anchors-0123456789abcdef").symlink_to(
        elsewhere, target_is_directory=True
    )
    job = shot_job(area / "short", out / "c.####.exr", backend="propagate")
    status, _, body = http("POST", server.url + "/v1/jobs", "alice", job.to_dict())
    assert status == 403 and "anchors-0123456789abcdef" in body["detail"], body
    assert victim.read_text() == "precious\n" and list(elsewhere.iterdir()) == []


def test_a_folder_swapped_for_a_link_out_of_the_roots_while_queued_fails_the_job(server, area, tmp_path):
    """The roots were checked at submit only: a job's plate and output folders swapped for links out of the
    roots while it waited in the queue had the worker read the plate there and write its frames there. The
    job's paths are checked again as a worker takes it (a resumed one too); it fails with the 403's line."""
    client = server.client()
    outside = make_shot(tmp_path / "secret", range(1, 4))
    leaked = tmp_path / "leakout"
    leaked.mkdir()
    shot = area / "swap_shot"
    shutil.copytree(area / "short", shot)
    out = area / "swap_out"
    out.mkdir()
    busy = client.submit(shot_job(area / "long", area / "out_swap_busy" / "c.####.exr").to_dict())["id"]
    wait_for(lambda: client.job(busy)["state"] == "running")  # held after frame HELD: the worker is taken
    queued = client.submit(shot_job(shot, out / "c.####.exr").to_dict())["id"]
    assert client.job(queued)["state"] == "queued"
    shutil.rmtree(shot)
    shot.symlink_to(outside, target_is_directory=True)
    out.rmdir()
    out.symlink_to(leaked, target_is_directory=True)
    client.cancel(busy)
    _let_go(server, busy)
    final = _events_until_final(client, queued)[-1]
    assert final["event"] == "error" and final["exit_code"] == 2, final
    assert final["message"].startswith(f"input path {shot / 'plate.####.exr'} (resolves to "), final
    assert "is outside the server's roots" in final["message"]
    assert client.job(queued)["state"] == "failed"
    assert list(leaked.iterdir()) == []


def test_windows_paths_are_mapped_onto_the_root(server, area):
    job = shot_job(area / "short", area / "out_map" / "c.####.exr").to_dict()
    job["input"] = "Z:\\studio\\short\\plate.####.exr"
    job["mask"] = "z:/STUDIO/short/mask.####.png"  # case-insensitive, either slash
    job["output"] = "Z:\\studio\\out_map\\c.####.exr"
    client = server.client()
    job_id = client.submit(job)["id"]
    assert _events_until_final(client, job_id)[-1]["event"] == "done"
    assert client.job(job_id)["job"]["input"] == str(area / "short" / "plate.####.exr")
    assert len(list((area / "out_map").glob("c.*.exr"))) == 3
    # A drive no rule maps is named as that, not as a path that is not absolute.
    job["input"] = "Y:\\elsewhere\\plate.####.exr"
    status, _, body = http("POST", server.url + "/v1/jobs", "alice", job)
    assert status == 422 and body["detail"].startswith(
        "input path Y:\\elsewhere\\plate.####.exr is a Windows path"
    )


def test_aifx_submit_leaves_windows_paths_to_the_servers_path_map(server, area, tmp_path):
    """A job saved on Windows (``Z:\\studio\\...``) sent by ``aifx submit`` from Linux: submit took the path for
    a relative one and glued its working folder on (``/cwd/Z:\\studio\\short\\plate.####.exr``), and the server
    refused it as outside its roots, exit 2, where the same job POSTed as it is was mapped and filled. Now
    drive and UNC paths go as they are: mapped, or refused as a Windows path no rule maps."""
    job = shot_job(area / "short", area / "out_submit_win" / "c.####.exr").to_dict()
    job["input"] = "Z:\\studio\\short\\plate.####.exr"
    job["mask"] = "Z:\\studio\\short\\mask.####.png"
    job["output"] = "Z:\\studio\\out_submit_win\\c.####.exr"
    (tmp_path / "job.json").write_text(json.dumps(job))
    env = {**os.environ, "AIFX_TOKEN": TOKENS["alice"]}
    done = aifx("submit", "job.json", "--server", server.url, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert len(list((area / "out_submit_win").glob("c.*.exr"))) == 3
    for unmapped in ("Y:\\elsewhere\\plate.####.exr", "\\\\fileserver\\shots\\plate.####.exr"):
        (tmp_path / "job.json").write_text(json.dumps({**job, "input": unmapped}))
        refused = aifx("submit", "job.json", "--server", server.url, cwd=tmp_path, env=env)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip().splitlines() == [
            f"aifx: error: input path {unmapped} is a Windows path no --path-map rule of this server maps; "
            "ask its admin for a rule (docs/serve.md, path mapping)"
        ]


def test_relative_paths_are_refused_by_a_server_without_roots(tmp_path):
    """The server's working folder is not the artist's: a relative path would read (and write) beside the
    server, wherever it was started."""
    server = Server(tmp_path / "state", "--token-file", str(write_tokens(tmp_path / "tokens"))).start()
    try:
        job = shot_job(tmp_path / "shot", tmp_path / "out" / "c.####.exr").to_dict()
        job["input"] = "shot/plate.####.exr"
        status, _, body = http("POST", server.url + "/v1/jobs", "alice", job)
        assert status == 422 and body["detail"].startswith("input path shot/plate.####.exr is relative"), body
    finally:
        server.stop()


def test_a_worker_that_dies_fails_its_job_and_is_replaced(server, area):
    import os
    import signal

    client = server.client()
    job_id = client.submit(
        shot_job(area / "long", area / "out_crash" / "c.####.exr", backend="propagate").to_dict()
    )["id"]
    stream = client.events(job_id)
    next(e for e in stream if e.get("stage") == "write")
    pid = http("GET", server.url + "/v1/models", "alice")[2]["workers"][0]["pid"]
    os.kill(pid, signal.SIGKILL)  # what an out-of-memory kill or a crashing model library does
    final = list(stream)[-1]
    assert final["event"] == "error" and final["exit_code"] == 1 and "worker process died" in final["message"]
    assert client.job(job_id)["state"] == "failed"
    # The job's message says "see the server log": the log names the worker, its pid, the job and the signal.
    died = f"worker cpu (pid {pid}) died while running job {job_id} (exit code -9: killed by SIGKILL"
    wait_for(lambda: [line for line in server.log if died in line], timeout=30)
    after = client.submit(shot_job(area / "short", area / "out_after_crash" / "c.####.exr").to_dict())["id"]
    assert list(client.events(after))[-1]["event"] == "done"
    idle = http("GET", server.url + "/v1/models", "alice")[2]["workers"][0]["pid"]
    assert idle != pid
    assert not [line for line in server.log if f"pid {pid}) died while idle" in line]  # (logged once, above)
    os.kill(idle, signal.SIGKILL)  # an idle worker's death is named too, and it is replaced
    wait_for(lambda: [line for line in server.log if f"worker cpu (pid {idle}) died while idle" in line], 30)
    wait_for(
        lambda: http("GET", server.url + "/v1/models", "alice")[2]["workers"][0]["pid"] not in (idle, None)
    )


def test_models_lists_the_workers(server):
    status, _, body = http("GET", server.url + "/v1/models", "bob")
    assert status == 200
    assert [w["worker"] for w in body["workers"]] == ["cpu"] and body["workers"][0]["pid"]


# -- aifx submit ----------------------------------------------------------------------------------------------
def test_aifx_submit_without_a_token_says_where_it_looks_for_one(server, area, tmp_path):
    """With no token set, the server's 'missing or wrong bearer token; ask for one' never said that aifx
    submit reads it from $AIFX_TOKEN (or the variable --token-env names), and --token-env's help hid its
    default. A wrong token still gets the server's answer."""
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("AIFX_TOKEN", "MY_TOKEN")}
    shot_job(area / "short", area / "out_no_token" / "c.####.exr").save(tmp_path / "job.json")
    job = str(tmp_path / "job.json")
    plain = aifx("submit", job, "--server", server.url, env=env)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr, plain.stderr
    assert plain.stderr.strip().splitlines() == [
        f"aifx: error: no token: the server at {server.url} needs one; set $AIFX_TOKEN to your token (or pass "
        "--token-env VAR naming the variable that holds it); ask the server's admin for one if you have none "
        "('aifx serve token add')"
    ], plain.stderr
    named = aifx("submit", job, "--server", server.url, "--token-env", "MY_TOKEN", env=env)
    assert named.returncode == 2 and "no token: " in named.stderr and "set $MY_TOKEN " in named.stderr
    wrong = aifx("submit", job, "--server", server.url, env={**env, "AIFX_TOKEN": "not-a-token"})
    assert wrong.returncode == 2 and "missing or wrong bearer token" in wrong.stderr, wrong.stderr
    assert not (area / "out_no_token").exists()
    shown = " ".join(aifx("submit", "--help").stdout.split())
    assert "environment variable holding your token (default AIFX_TOKEN)" in shown


def test_a_token_with_its_line_ending_works_and_a_bad_one_is_never_printed(server, area, tmp_path):
    """``export AIFX_TOKEN="$(cat token.txt)"`` from a CRLF file (or a wrapper keeping the newline): the header
    was refused and the error line quoted it, ``(Invalid header value b'Bearer <the whole token>\\r')``, into
    the farm's logs. The token is stripped where it is read (aifx submit, the adapters' client), so it works;
    one with a control character inside is refused in one line that never shows it."""
    from aifx_core.protocol.remote import RemoteClient

    secret = TOKENS["alice"]
    shot_job(area / "short", area / "out_token_tail" / "c.####.exr").save(tmp_path / "job.json")
    for tail in ("\r\n", "\n", "\r"):
        env = {**os.environ, "AIFX_TOKEN": secret + tail}
        done = aifx("submit", str(tmp_path / "job.json"), "--server", server.url, env=env)
        assert done.returncode == 0, done.stderr
        assert secret not in done.stderr
        assert RemoteClient(server.url, secret + tail).jobs()["jobs"] is not None
    inside = "s3cr3t-TOKEN-abcdef0123456789"
    for token in (inside[:6] + "\n" + inside[6:], inside[:6] + "\r" + inside[6:] + "\r\n"):
        bad = aifx(
            "submit",
            str(tmp_path / "job.json"),
            "--server",
            server.url,
            env={**os.environ, "AIFX_TOKEN": token},
        )
        assert bad.returncode == 2, bad.stderr
        assert bad.stderr.strip().splitlines() == [
            "aifx: error: the token holds a control character (a line break inside it?); set it to the token alone"
        ]
        with pytest.raises(RemoteError) as raised:
            RemoteClient("http://127.0.0.1:9", token).health()
        assert raised.value.exit_code == 2 and inside[6:] not in str(raised.value)


def test_a_server_url_with_a_path_the_server_has_not_is_named_with_what_to_do(server, area, tmp_path):
    """``--server http://host:port/aifx/`` on a server without that path (no proxy in front) answered a bare
    ``aifx: error: Not Found``, naming neither the URL nor what to do. A job the server does not have still
    says which."""
    shot_job(area / "short", area / "out_prefix" / "c.####.exr").save(tmp_path / "job.json")
    env = {**os.environ, "AIFX_TOKEN": TOKENS["alice"]}
    done = aifx("submit", str(tmp_path / "job.json"), "--server", server.url + "/aifx/", env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"aifx: error: {server.url}/aifx/v1/jobs: 404 Not Found; is {server.url}/aifx an aifx server? leave out "
        "'/aifx': give the server URL as http(s)://HOST:PORT, with a path only where a proxy serves aifx under one"
    ]
    assert not (area / "out_prefix").exists()
    with pytest.raises(RemoteError, match="^no job nosuchjob$"):
        server.client("alice").job("nosuchjob")


def test_aifx_submit_runs_remotely_like_a_local_run(server, area, tmp_path):
    env = {**__import__("os").environ, "AIFX_TOKEN": TOKENS["alice"]}
    shot_job(area / "short", area / "out_submit" / "c.####.exr").save(tmp_path / "job.json")
    done = aifx("submit", str(tmp_path / "job.json"), "--server", server.url, "--json-progress", env=env)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["event"] == "done" and len(events[-1]["written"]) == 3
    plain = aifx("submit", str(tmp_path / "job.json"), "--server", server.url, env=env)
    assert plain.returncode == 0 and "3 already done" in plain.stderr

    shot_job(area / "short", area / "out_submit2" / "c.####.exr", threshold=7).save(tmp_path / "bad.json")
    bad = aifx("submit", str(tmp_path / "bad.json"), "--server", server.url, env=env)
    assert bad.returncode == 2 and "threshold" in bad.stderr and "Traceback" not in bad.stderr
    shot_job(
        area / "short",
        area / "missing_in",
    ).save(tmp_path / "missing.json")
    job = json.loads((tmp_path / "missing.json").read_text())
    job["input"] = str(area / "nothing" / "plate.####.exr")
    (tmp_path / "missing.json").write_text(json.dumps(job))
    failed = aifx("submit", str(tmp_path / "missing.json"), "--server", server.url, env=env)
    assert failed.returncode == 2, failed.stderr  # the job's own exit code, from the server
    noauth = aifx("submit", str(tmp_path / "job.json"), "--server", server.url, "--token-env", "NO_SUCH_VAR")
    assert noauth.returncode == 2 and "token" in noauth.stderr
    # A job with relative paths means them where aifx submit runs, as aifx run there would read them.
    relative = shot_job(area / "short", area / "out_relative" / "c.####.exr").to_dict()
    relative.update(
        input="short/plate.####.exr", mask="short/mask.####.png", output="out_relative/c.####.exr"
    )
    (tmp_path / "relative.json").write_text(json.dumps(relative))
    there = aifx("submit", str(tmp_path / "relative.json"), "--server", server.url, cwd=area, env=env)
    assert there.returncode == 0, there.stderr
    assert len(list((area / "out_relative").glob("c.*.exr"))) == 3


@pytest.mark.parametrize("sent", ["SIGINT", "SIGTERM"])
def test_ctrl_c_in_aifx_submit_cancels_on_the_server(server, area, tmp_path, sent):
    """Ctrl+C, and SIGTERM: how a farm scheduler cancels a task that wraps ``aifx submit``."""
    import signal

    env = {**__import__("os").environ, "AIFX_TOKEN": TOKENS["alice"]}
    out = area / f"out_{sent.lower()}"
    shot_job(area / "long", out / "c.####.exr", backend="propagate").save(tmp_path / "job.json")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aifx_core",
            "submit",
            str(tmp_path / "job.json"),
            "--server",
            server.url,
            "--json-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line).get("stage") == "write":
            break
    proc.send_signal(getattr(signal, sent))

    def mine():
        jobs = server.client().jobs(limit=500)["jobs"]
        return [j for j in jobs if j["job"]["output"] == str(out / "c.####.exr")]

    try:
        job_id = wait_for(lambda: [j["id"] for j in mine() if j["cancel_requested"]], timeout=60)[0]
    except AssertionError:
        proc.kill()
        raise AssertionError("the cancel never reached the server: " + proc.communicate()[1]) from None
    _let_go(server, job_id)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert json.loads(rest.splitlines()[-1])["event"] == "cancelled"
    assert [j["state"] for j in mine()] == ["cancelled"]


@pytest.mark.parametrize("sent", ["SIGINT", "SIGTERM"])
def test_a_cancel_as_the_job_is_queued_cancels_it_on_the_server(server, area, tmp_path, sent):
    """A farm's SIGTERM (or a Ctrl+C) that came after the server had queued the job but before aifx submit
    followed it killed aifx submit (exit -15) before its cancel handling was in place: the job ran on, untracked.
    Now the handling is in place before the job is sent; interrupted with the job's id unread, aifx submit asks
    again with the same idempotency key (the same job comes back), cancels it and exits 130."""
    import signal

    env = {**os.environ, "AIFX_TOKEN": TOKENS["alice"]}
    out = area / f"out_queued_{sent.lower()}"
    shot_job(area / "long", out / "c.####.exr").save(tmp_path / "job.json")
    proxy = SignalAtQueued(server.url, getattr(signal, sent))
    command = [sys.executable, "-m", "aifx_core", "submit", str(tmp_path / "job.json"), "--server", proxy.url]

    def mine():
        jobs = server.client("admin").jobs(limit=500)["jobs"]
        return [j for j in jobs if j["job"]["output"] == str(out / "c.####.exr")]

    proc = subprocess.Popen(
        [*command, "--json-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,
    )
    proxy.pid = proc.pid
    try:
        assert proxy.fired.wait(120), "the job was never queued"
        asked = lambda: [j for j in mine() if j["cancel_requested"] or j["state"] == "cancelled"]  # noqa: E731
        wait_for(lambda: asked() or proc.poll() is not None, timeout=60)
        orphaned = not asked()  # aifx submit ended without a cancel: its job is still on the server
        if orphaned:
            for job in mine():
                server.client("admin").cancel(job["id"])
        _let_go(server, *[j["id"] for j in mine()])
        rest, err = proc.communicate(timeout=60)
    finally:
        proxy.close()
        if proc.poll() is None:
            proc.kill()
    assert not orphaned, f"aifx submit: exit {proc.returncode}, no cancel sent; its job ran on: {err}"
    assert proc.returncode == 130 and f"aifx: cancelling job {mine()[0]['id']}" in err, err
    assert "aifx: interrupted while sending the job; cancelling it on the server" in err  # (the window hit)
    assert json.loads(rest.splitlines()[-1])["event"] == "cancelled"
    assert [j["state"] for j in mine()] == ["cancelled"]  # one job: asking again made no second one


@contextlib.contextmanager
def _full_queue(tmp_path: Path) -> Iterator[tuple[Server, list[str], Path]]:
    """A server (``--max-queue 3``) whose one worker holds a job and three more wait: a submit gets 429 with a
    Retry-After of 23 s (Store._retry_after), far longer than a test takes to act on it. Yields the server, the
    waiting jobs' ids and a shot to fill."""
    shot = make_shot(tmp_path / "shot", range(1, 4))
    go = tmp_path / "go"
    srv = Server(tmp_path / "state", "--max-queue", "3")
    # The worker holds the first job after its frame 1 (manifest.fault_point) until the file go exists.
    srv.start_options["env"] = {**os.environ, "AIFX_TEST_WAIT": f"written:1:{go}"}
    srv.start()
    try:
        client = srv.client(None)
        held = client.submit(shot_job(shot, tmp_path / "held" / "c.####.exr").to_dict())["id"]
        wait_for(lambda: client.job(held)["state"] == "running", timeout=60)
        jobs = [shot_job(shot, tmp_path / f"q{i}" / "c.####.exr").to_dict() for i in range(3)]
        yield srv, [client.submit(job)["id"] for job in jobs], shot
    finally:
        go.touch()
        srv.stop()


def _submitted_by(srv: Server, output: Path) -> list[str]:
    """The ids of the jobs on the server that write ``output``."""
    return [j["id"] for j in srv.client(None).jobs(limit=500)["jobs"] if j["job"]["output"] == str(output)]


@pytest.mark.parametrize("room", [False, True], ids=["still_full", "room_by_then"])
def test_a_cancel_while_waiting_for_room_in_the_queue_sends_nothing(tmp_path, room):
    """A farm's SIGTERM while aifx submit waits out a full queue's Retry-After: the server answered 429, so it
    holds no job of this submit, and aifx submit ends (130) saying nothing was queued. It used to send the job
    again "to cancel it": with room in the queue by then the server made a job only to cancel it; still full, it
    said "could not learn the job to cancel (429 ...); it may still run on the server", which was false."""
    import signal

    with _full_queue(tmp_path) as (srv, waiting, shot):
        out = tmp_path / "mine" / "c.####.exr"
        shot_job(shot, out).save(tmp_path / "job.json")
        log = tmp_path / "submit.log"
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "aifx_core",
                    "submit",
                    str(tmp_path / "job.json"),
                    "--server",
                    srv.url,
                ],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            wait_for(lambda: "retrying in" in log.read_text(), timeout=60)
            if room:
                srv.client(None).cancel(waiting[0])  # a waiting job's cancel frees its place at once
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        said = log.read_text()
        assert _submitted_by(srv, out) == [], f"the cancel made a job on the server: {said}"
    assert code == 130 and "nothing was queued" in said and "may still run" not in said, said


def test_a_cancel_while_a_refused_send_is_in_flight_says_nothing_was_queued(tmp_path):
    """A SIGTERM that lands while the send is in flight, its answer a 429 not yet read: aifx submit asks again
    with the same idempotency key to learn the job to cancel, and that 429 too means the server holds none. It
    was read as "could not learn the job to cancel (...); it may still run on the server", which was false."""
    import signal

    with _full_queue(tmp_path) as (srv, _waiting, shot):
        out = tmp_path / "mine" / "c.####.exr"
        shot_job(shot, out).save(tmp_path / "job.json")
        proxy = SignalAtQueued(srv.url, signal.SIGTERM, answer=b"HTTP/1.1 429")
        proc = subprocess.Popen(
            [sys.executable, "-m", "aifx_core", "submit", str(tmp_path / "job.json"), "--server", proxy.url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        proxy.pid = proc.pid
        try:
            _, said = proc.communicate(timeout=60)
        finally:
            proxy.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proxy.fired.is_set() and "interrupted while sending the job" in said, said  # (the window hit)
        assert _submitted_by(srv, out) == [], said
    assert proc.returncode == 130 and "nothing was queued" in said and "may still run" not in said, said


def test_remote_client_errors_are_clear(server):
    with pytest.raises(RemoteError) as info:
        server.client("alice").job("nope")
    assert info.value.status == 404 and info.value.exit_code == 2
    from aifx_core.protocol.remote import RemoteClient

    with pytest.raises(RemoteError, match="cannot reach"):
        RemoteClient("http://127.0.0.1:9", "x", timeout=5).health()


def test_remote_worker_runs_a_saved_job_like_a_local_worker(server, area, tmp_path):
    """What the Blender and Nuke adapters poll: the same calls as the local WorkerProcess, on the server."""
    from aifx_core.protocol.remote import RemoteError, RemoteWorker

    job_path = tmp_path / "job.json"
    shot_job(area / "short", area / "out_remote" / "c.####.exr").save(job_path)
    worker = RemoteWorker(server.url, TOKENS["alice"], str(job_path)).start()
    assert worker.wait(timeout=120) == 0 and not worker.running()
    seen = worker.poll()
    assert seen[-1]["event"] == "done" and worker.poll() == [] and worker.returncode == 0
    assert sorted(p.name for p in (area / "out_remote").glob("c.*.exr")) == [
        "c.0001.exr",
        "c.0002.exr",
        "c.0003.exr",
    ]
    # A job the server refuses fails at start with the CLI's message; a cancelled one ends with 130.
    shot_job(area / "short", area / "out_remote_bad" / "c.####.exr", threshold=2.0).save(job_path)
    with pytest.raises(RemoteError, match="threshold"):
        RemoteWorker(server.url, TOKENS["alice"], str(job_path)).start()
    shot_job(area / "long", area / "out_remote_cancel" / "c.####.exr", backend="propagate").save(job_path)
    long = RemoteWorker(server.url, TOKENS["alice"], str(job_path)).start()
    long.cancel(grace=0)
    assert long.job_id is not None
    _let_go(server, long.job_id)
    assert long.wait(timeout=60) == 130 and long.final["event"] == "cancelled"
