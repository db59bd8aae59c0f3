"""Warm models in the server's worker: loaded by a job, listed by GET /v1/models, unloaded when idle."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("torch")

from serve_helpers import Server, http, wait_for, write_tokens  # noqa: E402
from shot_files import make_shot, shot_job  # noqa: E402
from tiny_models import cached_build  # noqa: E402

pytestmark = pytest.mark.diffusers


def test_a_loaded_model_is_listed_then_unloaded_when_idle(tmp_path):
    area = make_shot(tmp_path / "studio" / "shot", range(1, 4)).parent
    built = cached_build("lama", tmp_path)
    model = area / "models" / "tiny-lama.pt"  # a model path is checked against the roots like the shot
    model.parent.mkdir()
    shutil.copy(built, model)
    server = Server(
        tmp_path / "state", "--token-file", str(write_tokens(tmp_path / "tokens")), "--root", str(area),
        "--idle-unload", "3",
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
        wait_for(lambda: loaded() == [], timeout=30)  # idle for 3 s: dropped from the worker
        again = client.submit({**job.to_dict(), "overwrite": True})["id"]
        assert list(client.events(again))[-1]["event"] == "done"  # and loaded again on demand
    finally:
        server.stop()
