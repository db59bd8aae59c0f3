from __future__ import annotations

import pytest

from aifx_core import FillJob, InputError


def test_job_round_trips_through_json(tmp_path):
    job = FillJob(
        input="plate.####.exr",
        output="clean.####.exr",
        mask="roto.%04d.png",
        frames="1001-1010,1020",
        backend="diffusers",
        options={"prompt": "crumbling concrete", "steps": 20, "keyframes": [1001, 1050]},
        dilate=6,
        feather=3,
        seed=7,
    )
    assert FillJob.from_json(job.to_json()) == job
    path = tmp_path / "job.json"
    job.save(path)
    assert FillJob.load(path) == job


def test_resume_key_ignores_what_does_not_change_pixels():
    base = FillJob(input="a.####.exr", output="b.####.exr")
    same = FillJob(
        input="a.####.exr", output="b.####.exr", overwrite=True, frames="1-5", contact_sheet="x.png"
    )
    other = FillJob(input="a.####.exr", output="b.####.exr", dilate=9)
    scheduled = FillJob(input="a.####.exr", output="b.####.exr", options={"window": 16})
    prompted = FillJob(input="a.####.exr", output="b.####.exr", options={"prompt": "rubble"})
    assert base.resume_key() == same.resume_key() == scheduled.resume_key()
    assert base.resume_key() != other.resume_key()
    assert base.resume_key() != prompted.resume_key()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be an object"),
        ('{"input": "a"}', "missing required field(s) output"),
        ('{"input": "a", "output": "b", "colour": 1}', "unknown job field(s) colour"),
        ('{"aifx_job": 99, "input": "a", "output": "b"}', "job format 99"),
    ],
)
def test_bad_job_json_names_the_problem(text, fragment):
    with pytest.raises(InputError, match=None) as info:
        FillJob.from_json(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize("field, value", [("dilate", -1), ("feather", 1.5), ("threshold", 2.0)])
def test_validate_rejects_impossible_values(field, value):
    job = FillJob(input="a.exr", output="b.exr", **{field: value})
    with pytest.raises(InputError, match=field):
        job.validate()


def test_missing_job_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="job file not found"):
        FillJob.load(tmp_path / "nope.json")
