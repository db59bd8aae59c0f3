"""Warm models in the server's worker: loaded by a job, listed by GET /v1/models, unloaded when idle."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("torch")

from serve_helpers import Server, http, wait_for, write_tokens  # noqa: E402
from shot_files import make_shot, shot_job  # noqa: E402
from tiny_models import cached_build  # noqa: E402

pytestmark = pytest.mark.diffusers

#: The server's --idle-unload: the test must see the model listed within this long of the job's end. With
#: 3 s a test that reacted late on a busy machine found it already dropped (and waited for it in vain).
IDLE = 10


def test_a_loaded_model_is_listed_then_unloaded_when_idle(tmp_path):
    area = make_shot(tmp_path / "studio" / "shot", range(1, 4)).parent
    built = cached_build("lama", tmp_path)
    model = area / "models" / "tiny-lama.pt"  # a model path is checked against the roots like the shot
    model.parent.mkdir()
    shutil.copy(built, model)
    server = Server(
        tmp_path / "state", "--token-file", str(write_tokens(tmp_path / "tokens")), "--root", str(area),
        "--idle-unload", str(IDLE),
    ).start()  # fmt: skip
    try:
        client = server.client("bob")
        job = shot_job(
            area / "shot", area / "out" / "c.####.exr", backend="lama", options={"model": str(model)}
        )
        # A model outside the roots, or linked into them from outside, is refused at submit like a plate.
        outside = {**job.to_dict(), "options": {"model": str(built)}}
        status, _, body = http("POST", server.url + "/v1/jobs", "bob", outside)
        assert status == 403 and body["detail"].startswith(
            f"option model {built} is outside the server's roots"
        )
        (area / "models" / "linked.pt").symlink_to(built)
        linked = {**job.to_dict(), "options": {"model": str(area / "models" / "linked.pt")}}
        status, _, body = http("POST", server.url + "/v1/jobs", "bob", linked)
        assert status == 403 and f"(resolves to {built.resolve()})" in body["detail"]
        relative = {**job.to_dict(), "options": {"model": "models/tiny-lama.pt"}}
        status, _, body = http("POST", server.url + "/v1/jobs", "bob", relative)
        assert status == 422 and body["detail"].startswith("option model models/tiny-lama.pt is relative")
        job_id = client.submit(job.to_dict())["id"]
        assert list(client.events(job_id))[-1]["event"] == "done"

        def loaded():
            workers = http("GET", server.url + "/v1/models", "bob")[2]["workers"]
            return workers[0]["models"]

        models = wait_for(loaded, timeout=10)
        assert [(m["model"], m["device"], m["kind"]) for m in models] == [
            (str(model.resolve()), "cpu", "TorchScript")
        ]
        wait_for(lambda: loaded() == [], timeout=60)  # idle for IDLE s: dropped from the worker
        again = client.submit({**job.to_dict(), "overwrite": True})["id"]
        assert list(client.events(again))[-1]["event"] == "done"  # and loaded again on demand
    finally:
        server.stop()


class _SlowPipe:
    """The server's end of the worker's stdout, reading slowly (a busy server): each progress line takes
    ``delay`` seconds to go, so the job lasts longer than the worker's --idle-unload."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        import time

        if '"event"' in text:
            time.sleep(self.delay)
        self.lines.append(text)

    def flush(self) -> None:
        pass


def test_a_model_used_by_a_job_longer_than_idle_unload_stays_loaded_after_it(tmp_path):
    """The worker's idle clock counted from a model's load at the job's start, so the model of any job
    longer than --idle-unload (600 s by default) was dropped the moment that job ended, as if unused."""
    from aifx_core.inpaint import models
    from aifx_core.serve.runner import Runner

    shot = make_shot(tmp_path / "shot", range(1, 5))
    model = cached_build("lama", tmp_path)
    job = shot_job(
        shot,
        tmp_path / "out" / "c.####.exr",
        backend="lama",
        options={"model": str(model), "per_frame": True},
    )
    models.clear_cache()
    runner = Runner(_SlowPipe(0.6), idle_unload=1.5)
    runner.run("j1", job.to_dict(), [])
    assert '"done"' in runner.out.lines[-2], runner.out.lines[-2:]
    loaded = models.loaded_models()
    assert [m["kind"] for m in loaded] == ["TorchScript"] and loaded[0]["idle_s"] < 1.0, loaded
    runner.unload_idle()  # what the worker's loop does right after every job
    assert [m["model"] for m in models.loaded_models()] == [str(model.resolve())]
    models.clear_cache()
