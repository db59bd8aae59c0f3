from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from aifx_core import FillJob, InputError
from aifx_core.protocol.job import PATH_FIELDS

SRC = Path(__file__).resolve().parents[1] / "src"


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
    assert base.resume_key() == same.resume_key()
    # The job keys on every option unless told which ones change pixels (the backend says: see test_backends).
    assert scheduled.resume_key() != base.resume_key() == scheduled.resume_key(pixel_options={})
    assert base.resume_key() != other.resume_key()
    assert base.resume_key() != prompted.resume_key()


def test_options_json_cannot_hold_key_and_save_as_their_values(tmp_path):
    """NumPy numbers and sets in the options keyed by their type's name (``<numpy.int64>``): other values keyed
    the same, and a rerun took the other settings' frames for done. They key, and save, as the values they are."""
    import numpy as np

    def job(keyframes: object) -> FillJob:
        return FillJob(input="a.####.exr", output="b.####.exr", options={"keyframes": keyframes})

    assert job([np.int64(1001)]).resume_key() != job([np.int64(1006)]).resume_key()
    assert job({1001, 1003}).resume_key() != job({1006}).resume_key()
    plain = job([1001, 1003]).resume_key()
    assert job([np.int64(1001), np.int64(1003)]).resume_key() == job({1003, 1001}).resume_key() == plain
    assert job((1001, 1003)).resume_key() == job(np.array([1001, 1003])).resume_key() == plain
    saved = job({np.int64(1003), 1001})
    saved.save(tmp_path / "job.json")
    assert FillJob.load(tmp_path / "job.json").options == {"keyframes": [1001, 1003]}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be an object"),
        ('{"input": "a"}', "missing required field(s) output"),
        ('{"input": "a", "output": "b", "colour": 1}', "unknown job field(s) colour"),
        ('{"aifx_job": 99, "input": "a", "output": "b"}', "job format 99 is newer than this aifx-core reads"),
        (
            '{"aifx_job": 99, "input": "a", "output": "b", "grain": 1}',
            'field(s) "grain" come from job format 99, newer',
        ),
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


#: Job JSON a careless user or a hostile file might send (issue #11 item 3): each refused, naming the field.
BAD_FIELDS = [
    ("overwrite", "false"),
    ("skip_missing", "no"),
    ("invert_mask", 1),
    ("dilate", True),
    ("dilate", 1.5),
    ("feather", -1),
    ("seed", "abc"),
    ("seed", -1),
    ("threshold", None),
    ("threshold", 1.5),
    ("threshold", "0.5"),
    ("frames", 1001),
    ("input", 7),
    ("output", None),
    ("input", ""),
    ("mask", ["a.png"]),
    ("options", ["steps", 4]),
    ("backend", 3),
    ("device", None),
    ("compression", False),
]


@pytest.mark.parametrize("name, value", BAD_FIELDS)
def test_every_field_type_and_range_is_checked(name, value):
    data = {**FillJob(input="a.####.exr", output="b.####.exr").to_dict(), name: value}
    with pytest.raises(InputError) as info:
        FillJob.from_dict(data)
    message = str(info.value)
    assert f'"{name}"' in message and "\n" not in message
    job = FillJob(input="a.####.exr", output="b.####.exr")
    setattr(job, name, value)  # the Python API: the same rule set through validate()
    with pytest.raises(InputError, match=f'"{name}"'):
        job.validate()


def test_good_values_of_every_kind_pass():
    job = FillJob.from_dict(
        {"input": "a.####.exr", "output": "b.####.exr", "threshold": 1, "seed": 2**32 - 1, "mask": None}
    )
    job.validate()
    assert job.threshold == 1 and job.seed == 2**32 - 1


@pytest.mark.parametrize(
    "name, value", [("overwrite", "false"), ("dilate", True), ("frames", 5), ("input", 3)]
)
def test_aifx_run_refuses_a_mistyped_job_with_exit_2(tmp_path, name, value):
    import json
    import subprocess
    import sys

    data = {**FillJob(input=str(tmp_path / "a.####.exr"), output=str(tmp_path / "o.####.exr")).to_dict()}
    data[name] = value
    path = tmp_path / "job.json"
    path.write_text(json.dumps(data))
    done = subprocess.run(
        [sys.executable, "-m", "aifx_core", "run", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f'"{name}"' in lines[0], done.stderr
    assert not (tmp_path / "o.0001.exr").exists()


def test_job_files_that_are_not_files_or_too_big_are_refused(tmp_path):
    with pytest.raises(InputError, match="job file is a folder"):
        FillJob.load(tmp_path)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (2 << 20))
    with pytest.raises(InputError, match="a job is at most"):
        FillJob.load(big)
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"input": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        FillJob.load(latin)


def test_a_byte_order_mark_is_not_part_of_the_job(tmp_path):
    """Notepad and PowerShell's ``-Encoding UTF8`` start a file with one; the job is the text after it."""
    job = FillJob(input="a.####.exr", output="b.####.exr", dilate=3)
    path = tmp_path / "job.json"
    path.write_bytes(b"\xef\xbb\xbf" + job.to_json().encode("utf-8"))
    assert FillJob.load(path) == job


def test_save_is_atomic_and_leaves_no_temp(tmp_path):
    job = FillJob(input="a.####.exr", output="b.####.exr")
    job.save(tmp_path / "job.json")
    assert FillJob.load(tmp_path / "job.json") == job
    assert [p.name for p in tmp_path.iterdir()] == ["job.json"]


def test_a_pathlib_path_is_taken_as_its_text(tmp_path):
    """A pipeline developer passes ``pathlib.Path`` objects: the job holds their text (what JSON, the adapters
    and a farm carry), so it validates, saves and runs instead of refusing "must be a string"."""
    from pathlib import Path

    from shot_files import make_shot

    from aifx_core import fill

    shot = make_shot(tmp_path / "shot", frames=range(1001, 1003))
    job = FillJob(
        input=shot / "plate.####.exr",
        mask=Path(shot / "mask.####.png"),
        output=tmp_path / "o" / "c.####.exr",
        contact_sheet=tmp_path / "sheet.png",
        backend="telea",
    )
    assert (job.input, job.mask) == (str(shot / "plate.####.exr"), str(shot / "mask.####.png"))
    assert isinstance(job.output, str) and isinstance(job.contact_sheet, str)
    job.validate()
    job.save(tmp_path / "job.json")
    assert FillJob.load(tmp_path / "job.json") == job
    assert fill(job).written == [1001, 1002]


def test_numpy_numbers_are_taken_as_the_numbers_they_are(tmp_path):
    """``threshold=np.float32(0.5)`` was refused as 'must be a number, got 0.5' and ``dilate=np.int64(4)`` as 'must
    be a whole number, got 4'. The job holds them as Python numbers (so it saves, and keys as the same job); what
    is still refused names its type."""
    import numpy as np

    job = FillJob(
        input="a.####.exr",
        output="b.####.exr",
        threshold=np.float32(0.5),
        dilate=np.int64(4),
        seed=np.uint32(7),
    )
    job.validate()
    assert [type(v) for v in (job.threshold, job.dilate, job.seed)] == [float, int, int]
    plain = FillJob(input="a.####.exr", output="b.####.exr", threshold=0.5, dilate=4, seed=7)
    assert job == plain and job.resume_key() == plain.resume_key()
    job.save(tmp_path / "job.json")
    assert FillJob.load(tmp_path / "job.json") == plain
    for name, value, said in [
        ("dilate", np.float64(4.0), 'job field "dilate" must be a whole number, got 4.0'),
        ("threshold", np.bool_(True), 'job field "threshold" must be a number, got '),
    ]:
        with pytest.raises(InputError, match=re.escape(said) + r".*\(a numpy\."):
            FillJob(input="a.####.exr", output="b.####.exr", **{name: value}).validate()


def test_type_checkers_take_a_pathlib_path_for_the_path_fields(tmp_path):
    """``FillJob(input=Path(...))`` runs (the job keeps the text) and the docs show it, but ``mypy --strict``
    refused it: the fields are ``str``. Type checkers see an ``__init__`` that takes a path there too."""
    script = tmp_path / "user_script.py"
    script.write_text(
        "from pathlib import Path\n"
        "from aifx_core.protocol.job import FillJob\n"
        "job = FillJob(input=Path('plate.####.exr'), output=Path('clean.####.exr'), mask=Path('roto.####.png'),\n"
        "              contact_sheet=Path('sheet.png'), dilate=6)\n"
        "text: str = job.input\n"
        "FillJob(input='a', output='b', mask_channel=Path('A'))  # type: ignore[arg-type]\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--warn-unused-ignores", "--cache-dir", str(tmp_path / "cache"),
         str(script)],
        cwd=tmp_path, env={**os.environ, "MYPYPATH": str(SRC)}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_signature_type_checkers_see_is_every_field_in_order():
    """That ``__init__`` (under ``TYPE_CHECKING``) is written out: a new field must be added to it too."""
    tree = ast.parse((SRC / "aifx_core" / "protocol" / "job.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "FillJob")
    init = next(
        f for n in cls.body if isinstance(n, ast.If) for f in n.body if isinstance(f, ast.FunctionDef)
    )
    params = init.args.args[1:]
    specs = fields(FillJob)
    assert [p.arg for p in params] == [spec.name for spec in specs]
    required = [spec.name for spec in specs if spec.default is MISSING and spec.default_factory is MISSING]
    assert [p.arg for p in params[: len(params) - len(init.args.defaults)]] == required
    for param, spec in zip(params, specs, strict=True):
        typed = (
            str(spec.type).replace("str", "str | os.PathLike[str]", 1)
            if spec.name in PATH_FIELDS
            else spec.type
        )
        assert ast.unparse(param.annotation) == typed, spec.name


def test_job_files_saved_from_threads_at_once_are_always_whole(tmp_path):
    """Saves in several threads shared one temp name (the pid): one renamed another's away
    (FileNotFoundError) or a reader met half a job. Each save now writes its own temp file."""
    import threading

    path = tmp_path / "race.json"
    errors: list[str] = []
    jobs = [FillJob(input="a" * 5000 + str(i), output="b.####.exr") for i in range(4)]
    done = threading.Event()

    def save(job: FillJob) -> None:
        for _ in range(100):
            try:
                job.save(path)
            except Exception as exc:  # (collected: a thread's exception would be lost)
                errors.append(repr(exc))

    def read() -> None:
        while not done.is_set():
            if path.exists():
                try:
                    assert FillJob.load(path) in jobs
                except Exception as exc:
                    errors.append(repr(exc))

    reader = threading.Thread(target=read)
    reader.start()
    savers = [threading.Thread(target=save, args=(job,)) for job in jobs]
    for thread in savers:
        thread.start()
    for thread in savers:
        thread.join()
    done.set()
    reader.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["race.json"]


def test_a_killed_job_save_leaves_a_temp_file_the_clean_up_knows(tmp_path):
    """A save killed before its rename left ``.job.json.aifx-tmp-<pid>``, a name no clean-up matched."""
    import subprocess
    import sys

    from aifx_core.sequence import clean_stale_temps

    code = (
        "import os, sys\n"
        "from aifx_core import FillJob\n"
        "os.replace = lambda *a: os._exit(9)  # killed just before the rename\n"
        "FillJob(input='a.####.exr', output='b.####.exr').save(sys.argv[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "job.json")], timeout=60)
    assert done.returncode == 9
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(".job.aifx-tmp-") and left.name.endswith(".json")
    assert clean_stale_temps(tmp_path, 0.0) == [left] and not left.exists()


def test_a_job_nested_too_deeply_or_with_a_nul_in_a_path_is_one_line():
    """A RecursionError traceback, and 'embedded null byte' from the OS once the output folder existed."""
    deep = (
        '{"input": "a.####.exr", "output": "b.####.exr", "options": {"x": ' + "[" * 50000 + "]" * 50000 + "}}"
    )
    with pytest.raises(InputError, match="nested too deeply"):
        FillJob.from_json(deep)
    with pytest.raises(InputError, match='job field "output" holds a NUL character'):
        FillJob(input="a.####.exr", output="out/c\x00.####.exr").validate()


@pytest.mark.parametrize(
    "settings, words",
    [
        (
            {"colorspace": "sRGB\ud800"},
            'job field "colorspace" ("sRGB\\ud800") holds a lone UTF-16 surrogate',
        ),
        ({"colorspace": "sRGB\udc80"}, 'job field "colorspace" ("sRGB\\udc80")'),  # (no name from a disk)
        ({"backend": "telea\ud800"}, 'job field "backend" ("telea\\ud800")'),
        ({"frames": "1001\ud800"}, 'job field "frames" ("1001\\ud800")'),
        ({"compression": "zip\udfff"}, 'job field "compression" ("zip\\udfff")'),
        ({"mask_channel": "A\ud800"}, 'job field "mask_channel" ("A\\ud800")'),
        ({"options": {"radius\ud800": 3}}, 'job field "options" (the option name "radius\\ud800")'),
        ({"options": {"prompt": ["a", "b\ud800"]}}, 'job field "options" (prompt: ["a", "b\\ud800"])'),
        ({"contact_sheet": "out/s\ud800.png"}, 'job field "contact_sheet": out/s\\ud800.png: the file name'),
        (
            {"output": "o\ud800/c.####.exr"},
            'job field "output": o\\ud800/c.####.exr: the folder name o\\ud800',
        ),
    ],
)
def test_a_lone_surrogate_in_any_text_of_the_job_is_one_line(settings, words):
    """``"colorspace": "sRGB\\ud800"`` is valid JSON, and text nothing downstream can encode: OCIO's getColorSpace
    raised TypeError and aifx run ended in a traceback, exit 1, where an unknown name is one line, exit 2."""
    with pytest.raises(InputError) as info:  # (read from JSON as a job file is: the escape as sent)
        FillJob.from_json(json.dumps({"input": "a.####.exr", "output": "b.####.exr", **settings})).validate()
    message = str(info.value)
    assert words in message and "correct" in message and "\n" not in message, message
    message.encode("ascii")  # (printable on any terminal: the surrogate as its escape)


def test_the_escapes_of_a_paths_stray_bytes_are_left_to_the_paths_own_check():
    """U+DC80-U+DCFF in a path are Python's escapes of a name's bytes that are not UTF-8 (a folder from a Latin-1
    share): the run names that folder and how to rename it (sequence.pattern.check_utf8), and an option's value
    may be such a file (``reference``)."""
    job = FillJob(
        input="caf\udce9/a.####.exr", output="caf\udce9/b.####.exr", options={"reference": "\udce9.png"}
    )
    job.validate()
