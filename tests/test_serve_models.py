"""Warm models in the server's worker: loaded by a job, listed by GET /v1/models, unloaded when idle."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from serve_helpers import Server, http, wait_for, write_tokens  # noqa: E402
from shot_files import make_shot, shot_job  # noqa: E402
from tiny_models import cached_build  # noqa: E402

pytestmark = pytest.mark.diffusers


def test_a_loaded_model_is_listed_then_unloaded_when_idle(tmp_path):
    model = cached_build("lama", tmp_path)
    area = make_shot(tmp_path / "studio" / "shot", range(1, 4)).parent
    server = Server(
        tmp_path / "state", "--token-file", str(write_tokens(tmp_path / "tokens")), "--root", str(area),
        "--idle-unload", "3",
    ).start()  # fmt: skip
    try:
        client = server.client("bob")
        job = shot_job(
            area / "shot", area / "out" / "c.####.exr", backend="lama", options={"model": str(model)}
        )
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
