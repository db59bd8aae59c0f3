"""Job format and forward compatibility: a job that uses no new setting runs on an older aifx-core; one that
does is refused there with one line naming the field and saying to upgrade; jobs of the previous version still
run, and the resume keys of their outputs do not change."""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from shot_files import make_shot

from aifx_core import FillJob, InputError
from aifx_core.protocol import job as job_module

PROTOCOL = Path(__file__).resolve().parents[1] / "src" / "aifx_core" / "protocol"

#: What aifx-core at eac91fd (format 1 with ``confidence``, every field always written) saved for a job.
PREVIOUS_VERSION_JOB = {
    "aifx_job": 1,
    "backend": "telea",
    "colorspace": None,
    "compression": None,
    "confidence": False,
    "contact_sheet": None,
    "device": "auto",
    "dilate": 4,
    "feather": 2,
    "frames": None,
    "input": "PLATE",
    "invert_mask": False,
    "mask": "MASK",
    "mask_channel": None,
    "options": {},
    "output": "OUT",
    "overwrite": False,
    "seed": 0,
    "skip_missing": False,
    "threshold": 0.5,
}


def _protocol_variant(tmp_path: Path, name: str, edit) -> object:
    """A copy of the protocol package under another name with ``job.py`` edited: another aifx-core version."""
    target = tmp_path / name
    shutil.copytree(PROTOCOL, target, ignore=shutil.ignore_patterns("__pycache__"))
    source = (target / "job.py").read_text(encoding="utf-8")
    edited = edit(source)
    assert edited != source, "the edit found nothing to change"
    (target / "job.py").write_text(edited, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(f"{name}.job")
    finally:
        sys.path.remove(str(tmp_path))


def _older(source: str) -> str:
    """aifx-core before ``confidence`` existed (format 1 only)."""
    source = source.replace("JOB_FORMAT_VERSION = 2\n", "JOB_FORMAT_VERSION = 1\n")
    return (
        "\n".join(line for line in source.splitlines() if not line.startswith("    confidence: bool")) + "\n"
    )


def _newer(source: str) -> str:
    """A later aifx-core that added a field ``grain`` in job format 3."""
    source = source.replace("JOB_FORMAT_VERSION = 2\n", "JOB_FORMAT_VERSION = 3\n")
    added = "    grain: float = field(default=0.0, metadata=_since(3))\n\n    # -- JSON"
    return source.replace("\n    # -- JSON", "\n" + added, 1)


def test_a_job_at_defaults_writes_only_format_1():
    data = FillJob(input="a.####.exr", output="b.####.exr").to_dict()
    assert data["aifx_job"] == 1
    assert set(data) - {"aifx_job"} == set(job_module.FORMAT_1_FIELDS)
    used = FillJob(input="a.####.exr", output="b.####.exr", confidence=True).to_dict()
    assert used["aifx_job"] == 2 and used["confidence"] is True
    assert FillJob.from_dict(used).confidence is True


def test_every_format_1_field_is_written_even_at_its_default():
    """They pin the pixels: a later aifx-core with other defaults reads the same job the same way."""
    data = FillJob(input="a.####.exr", output="b.####.exr").to_dict()
    assert data["dilate"] == 4 and data["threshold"] == 0.5 and data["backend"] == "propagate"
    assert data["options"] == {} and data["seed"] == 0


def test_an_older_aifx_core_runs_a_job_that_does_not_use_what_it_lacks(tmp_path):
    older = _protocol_variant(tmp_path, "older_protocol", _older)
    assert "confidence" not in {f.name for f in fields(older.FillJob)}
    job = FillJob(input="a.####.exr", output="b.####.exr", backend="telea", dilate=7, options={"steps": 3})
    read = older.FillJob.from_json(job.to_json())
    assert read.to_dict() == job.to_dict()
    # ...and one that does use it is refused with the field, the format and what to do, on one line.
    with pytest.raises(older.InputError) as info:
        older.FillJob.from_json(FillJob(input="a", output="b", confidence=True).to_json())
    message = str(info.value)
    assert '"confidence"' in message and "job format 2" in message and "upgrade aifx-core" in message
    assert "\n" not in message


def test_a_newer_job_is_refused_naming_the_field_and_the_upgrade(tmp_path):
    newer = _protocol_variant(tmp_path, "newer_protocol", _newer)
    plain = newer.FillJob(input="a.####.exr", output="b.####.exr")
    assert FillJob.from_json(plain.to_json()) == FillJob(input="a.####.exr", output="b.####.exr")
    text = newer.FillJob(input="a.####.exr", output="b.####.exr", grain=0.3, confidence=True).to_json()
    assert json.loads(text)["aifx_job"] == 3
    with pytest.raises(InputError) as info:
        FillJob.from_json(text)
    message = str(info.value)
    assert '"grain"' in message and "job format 3" in message and "formats 1-2" in message
    assert "upgrade aifx-core" in message and "confidence" not in message


def test_a_typo_is_still_an_unknown_field_with_the_known_ones():
    with pytest.raises(InputError, match=r"unknown job field\(s\) dilte; known fields: .*dilate"):
        FillJob.from_dict({"input": "a", "output": "b", "dilte": 3})


@pytest.mark.parametrize("version", [0, -1, "2", True, 1.5, None])
def test_a_bad_format_number_is_refused(version):
    with pytest.raises(InputError, match="job format"):
        FillJob.from_dict({"aifx_job": version, "input": "a", "output": "b"})


def test_a_new_field_without_its_format_fails_at_import(tmp_path):
    def undeclared(source: str) -> str:
        return source.replace("\n    # -- JSON", "\n    grain: float = 0.0\n\n    # -- JSON", 1)

    with pytest.raises(TypeError, match=r"FillJob.grain: a field added after format 1 needs .* since=N"):
        _protocol_variant(tmp_path, "undeclared_protocol", undeclared)


def _previous_resume_key(job: FillJob, pixel_options=None) -> str:
    """The resume key exactly as aifx-core at eac91fd computed it (every field, at its default or not)."""
    data = {f.name: getattr(job, f.name) for f in fields(job) if f.name not in job_module.NOT_IN_RESUME_KEY}
    data["options"] = dict(job.options if pixel_options is None else pixel_options)
    blob = json.dumps(data, sort_keys=True, default=job_module._type_name).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@pytest.mark.parametrize(
    "job",
    [
        FillJob(input="a.####.exr", output="b.####.exr"),
        FillJob(input="a.####.exr", output="b.####.exr", confidence=True, dilate=9, options={"steps": 4}),
        FillJob(input="a.####.exr", output="b.####.exr", frames="1-3", overwrite=True, mask="m.####.png"),
    ],
)
def test_resume_keys_of_outputs_made_before_stay_the_same(job):
    assert job.resume_key() == _previous_resume_key(job)
    assert job.resume_key({"steps": 4}) == _previous_resume_key(job, {"steps": 4})


def test_a_field_added_later_changes_no_key_until_it_is_used(tmp_path):
    newer = _protocol_variant(tmp_path, "keyed_protocol", _newer)
    old = FillJob(input="a.####.exr", output="b.####.exr", dilate=5)
    assert newer.FillJob(input="a.####.exr", output="b.####.exr", dilate=5).resume_key() == old.resume_key()
    assert newer.FillJob(input="a.####.exr", output="b.####.exr", dilate=5, grain=0.1).resume_key() != (
        old.resume_key()
    )


def test_aifx_run_still_runs_a_job_saved_by_the_previous_version(tmp_path):
    shot = make_shot(tmp_path / "shot", frames=range(1001, 1003))
    out = tmp_path / "out" / "clean.####.exr"
    data = dict(PREVIOUS_VERSION_JOB)
    data.update(input=str(shot / "plate.####.exr"), mask=str(shot / "mask.####.png"), output=str(out))
    path = tmp_path / "job.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "run", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.parent.glob("clean.*.exr")) == ["clean.1001.exr", "clean.1002.exr"]
    assert FillJob.load(path) == FillJob.from_dict({**data, "aifx_job": 1})
