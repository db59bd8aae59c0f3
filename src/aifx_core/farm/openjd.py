"""``aifx export openjd``: a shot as an Open Job Description job template (AWS Deadline Cloud, ``openjd-cli``).

The template has one job parameter that matters, ``JobFile`` (a PATH, so the farm's path mapping applies to
it), and two steps (three with a contact sheet):

* ``Anchors`` runs ``aifx run JOB --anchors``: the shot's keyframes and what no frame saw on them, once, cached
  in the output's job cache (a no-op for backends that need none);
* ``Fill`` depends on it and runs ``aifx run JOB --frames={{Task.Param.Frames}}`` per chunk. By default the
  chunks come from OpenJD's ``TASK_CHUNKING`` extension (``CHUNK[INT]``): the runtime decides the ranges and may
  even them out (100 frames at 40 become 34/33/33), which is fine, since every chunk reads the range it is given
  and any range is exact (a shot on twos or with gaps is cut by its own frames: :func:`range_constraint`).
  ``--portable`` writes the chunks out as a STRING list of ranges instead, for runtimes without the extension;
* ``Sheet``, when the job asks for a contact sheet, depends on ``Fill`` and runs ``aifx run JOB --sheet``: the
  whole shot's sheet, once (a chunk writes none: chunks ending together would each write theirs over it).

Tasks report through OpenJD's stdout protocol: ``openjd_progress: 42.0`` from our ``write`` events,
``openjd_status:`` when a stage starts and at the end, ``openjd_fail:`` with the error line (see
:class:`OpenJDProgress`). The job's own paths (plate, mask, output) are inside the job file, where OpenJD cannot
see them: tasks pass ``--path-map {{Session.PathMappingRulesFile}}`` and aifx applies the session's rules to
them (the same ``pathmapping-1.0`` rules ``aifx serve --path-map`` reads).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..arguments import path_argument
from ..protocol import events
from ..protocol.errors import InputError
from ..protocol.job import FillJob, check_current_folder
from .ray_executor import DEFAULT_CHUNK, chunk_frames

if TYPE_CHECKING:
    from ..sequence import ProtectedFiles

SPECIFICATION = "jobtemplate-2023-09"
#: The most values OpenJD puts in one chunk (``chunks.defaultTaskCount``).
MAX_CHUNK = 150


def build_template(
    job: FillJob,
    job_file: str | os.PathLike,
    *,
    chunk: int | None = None,
    portable: bool = False,
    python: str = "python",
    name: str | None = None,
) -> dict[str, Any]:
    """The job template (as data) for ``job`` saved at ``job_file``; see the module docstring."""
    from ..sequence import format_frames

    size = DEFAULT_CHUNK if chunk is None else chunk  # (0 is refused, not taken for the default)
    if size < 1:
        raise InputError(f"--chunk {size}: a chunk needs at least 1 frame")
    if not portable and size > MAX_CHUNK:
        raise InputError(
            f"--chunk {size}: OpenJD chunks hold at most {MAX_CHUNK} frames; use --chunk {MAX_CHUNK} or "
            "--portable"
        )
    from ..serve.paths import not_absolute_kind, relative_job_paths

    for what, value in relative_job_paths(job, "job {}"):
        kind = not_absolute_kind(value)
        if kind == "windows":  # exported off Windows
            raise InputError(
                f"{what} {value} is a Windows path, which this machine cannot check: export the job on the "
                "Windows machine that made it (the farm's path mapping maps its paths), or save it with "
                "absolute paths on the workers' shared storage"
            )
        if kind == "home":
            raise InputError(
                f"{what} {value!r} starts with ~, which a farm task reads as its own user's home, not yours; "
                "give the full path on shared storage"
            )
        raise InputError(
            f"{what} {value!r} is a relative path: farm tasks run in their own folder; "
            "save the job with absolute paths on shared storage"
        )
    chunks = chunk_frames(job, size)
    run = ["-m", "aifx_core", "run", "{{Param.JobFile}}"]
    report = ["--openjd-progress", "--path-map", "{{Session.PathMappingRulesFile}}"]
    parameters: list[dict[str, Any]] = [
        {
            "name": "JobFile",
            "type": "PATH",
            "objectType": "FILE",
            "dataFlow": "IN",
            "default": str(Path(job_file).absolute()),
            "description": "The aifx job (JSON, saved by aifx fill --save-job or FillJob.save).",
        },
        {
            "name": "Python",
            "type": "STRING",
            "default": python,
            "description": "The Python on the workers that has aifx-core installed.",
        },
    ]
    if portable:
        frames_parameter: dict[str, Any] = {
            "name": "Frames",
            "type": "STRING",
            "range": [format_frames(frames) for frames in chunks],
        }
    else:
        parameters.append(
            {
                "name": "ChunkSize",
                "type": "INT",
                "default": size,
                "minValue": 1,
                "maxValue": MAX_CHUNK,
                "description": "Frames per Fill task (each also reads the context around its frames).",
            }
        )
        shot = [f for frames in chunks for f in frames]
        frames_parameter = {
            "name": "Frames",
            "type": "CHUNK[INT]",
            "range": openjd_range(shot),
            "chunks": {"defaultTaskCount": "{{Param.ChunkSize}}", "rangeConstraint": range_constraint(shot)},
        }
    template: dict[str, Any] = {"specificationVersion": SPECIFICATION}
    if not portable:
        template["extensions"] = ["TASK_CHUNKING"]
    template.update(
        {
            "name": name or f"aifx fill {Path(job.output).name}",
            "parameterDefinitions": parameters,
            "steps": [
                {
                    "name": "Anchors",
                    "script": _script([*run, "--anchors", *report]),
                },
                {
                    "name": "Fill",
                    "dependencies": [{"dependsOn": "Anchors"}],
                    "parameterSpace": {"taskParameterDefinitions": [frames_parameter]},
                    # One argument: an older aifx-core reads a separate "-3--2" (negative frames) as an option.
                    "script": _script([*run, "--frames={{Task.Param.Frames}}", *report]),
                },
            ],
        }
    )
    if job.contact_sheet is not None:  # chunks write no sheet: one task writes the whole shot's after them
        template["steps"].append(
            {
                "name": "Sheet",
                "dependencies": [{"dependsOn": "Fill"}],
                "script": _script([*run, "--sheet", *report]),
            }
        )
    return template


def _script(args: list[str]) -> dict[str, Any]:
    return {"actions": {"onRun": {"command": "{{Param.Python}}", "args": args}}}


def openjd_range(frames: list[int]) -> str:
    """OpenJD's integer range expression for ``frames``: aifx's compact form with OpenJD's step separator
    (``1001-1029:2``, ``1001-1011,1014-1030``), so a shot on twos is one short expression, not a list of
    every frame."""
    from ..sequence import format_frames

    return format_frames(frames).replace("x", ":")  # (the compact form has digits, "-", "," and "x" only)


def range_constraint(frames: list[int]) -> str:
    """How the runtime may cut ``frames`` into chunks. A ``CONTIGUOUS`` chunk must be an interval ``a-b`` of
    consecutive integers, so a runtime cuts a shot on twos into one-frame tasks (each paying a process start
    and its whole context) and a shot with gaps at every gap. A ``NONCONTIGUOUS`` chunk is any range
    expression (``1001-1009:2``, ``1009-1011,1014-1015``), which ``--frames`` reads, so every task gets
    ``ChunkSize`` frames of the shot. A shot that is one run keeps ``CONTIGUOUS`` (the same chunks)."""
    ordered = sorted(set(frames))
    return "CONTIGUOUS" if ordered[-1] - ordered[0] + 1 == len(ordered) else "NONCONTIGUOUS"


def write_template(
    template: dict[str, Any], path: str | os.PathLike, protected: ProtectedFiles | None = None
) -> None:
    """Write ``template`` to ``path`` (atomically): JSON for a ``.json`` name, else YAML. A path that cannot be
    written (a folder not there, a folder of that name: :func:`~aifx_core.sequence.check_side_output`, checked
    first; whatever else the write meets) is one line naming it, exit 2, not a traceback. ``protected``: the
    files the job's run must not write onto (:func:`protected_by`), refused the same way as ``--save-job``."""
    from ..sequence import ProtectedFiles, atomic_write, check_side_output

    target = check_side_output(
        path, "job template", protected or ProtectedFiles(), example="template.yaml", flag="-o/--output"
    )
    if target.suffix.lower() == ".json":
        text = json.dumps(template, indent=2) + "\n"
    else:
        text = yaml.safe_dump(template, sort_keys=False, width=1000)
    try:
        atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            f"{target}: cannot write the job template ({exc.strerror or exc}); choose another path (-o)"
        ) from None


def protected_by(job: FillJob, job_file: str | os.PathLike) -> ProtectedFiles:
    """What the template must not land on, as ``--save-job`` is refused there: the job's inputs (the job file
    too), its output frames, and the output's manifest, lock file and cache folder. ``-o out/.clean.####.png.aifx.json``
    replaced the manifest with the template, and every finished frame lost its resume record (the next run:
    "already exist, made by something else"). The run's own list (:func:`~aifx_core.pipeline.preflight`)."""
    from ..pipeline import preflight

    return preflight(job, job_file=job_file).protected


# -- the task side: path mapping and progress lines ---------------------------------------------------------


def load_session_path_map(file: str | os.PathLike) -> list[Any]:
    """The rules in an OpenJD session's path-mapping file; the file a session without rules writes (``{}``)
    means none."""
    from ..serve.paths import load_path_map

    check_current_folder(file)
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{file}: cannot read path mapping rules ({exc})") from None
    if data == {} or (
        isinstance(data, dict) and not data.get("path_mapping_rules") and "version" not in data
    ):
        return []
    return load_path_map(file)


def map_job_paths(job: FillJob, rules_file: str | os.PathLike) -> FillJob:
    """``job`` with the rules of ``rules_file`` applied to its plate, mask, output and contact sheet."""
    from ..serve.paths import map_job

    return map_job(job, load_session_path_map(rules_file))


class OpenJDProgress:
    """Our events as OpenJD's stdout protocol: ``openjd_progress`` (percent of this task's frames written),
    ``openjd_status`` (a stage starting, the end), ``openjd_fail`` (the error line). One line per write."""

    def __init__(self, write: Any = None) -> None:
        self.write = write or _print_line
        self.stage: str | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        for line in self._lines(event):
            self.write(" ".join(line.splitlines()))  # the protocol is one line per message

    def _lines(self, event: dict[str, Any]) -> list[str]:
        lines: list[str] = []
        kind = event.get("event")
        if kind == events.PROGRESS:
            done = events.fraction(event)
            if done is not None:
                lines.append(f"openjd_progress: {100.0 * done:.1f}")
            if event.get("stage") != self.stage and not events.is_overall(event):
                self.stage = str(event.get("stage"))
                lines.append(f"openjd_status: {events.describe(event)}")
        elif kind == events.DONE:
            lines.append("openjd_progress: 100.0")
            lines.append(f"openjd_status: {events.describe(event)}")
        elif kind == events.ERROR:
            lines.append(f"openjd_fail: {event.get('message', 'aifx failed')}")
        elif kind == events.CANCELLED:
            lines.append(f"openjd_status: cancelled: {event.get('message', '')}")
        return lines


def _print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# -- aifx export openjd ------------------------------------------------------------------------------------------


#: ``aifx export openjd --help``'s description: the module docstring's second paragraph ends in a bullet list,
#: which argparse would run together (and taking only that paragraph stopped at "...and two steps:").
DESCRIPTION = (
    "Write the shot as an Open Job Description job template (AWS Deadline Cloud, openjd-cli): a JobFile "
    "parameter and two steps, Anchors (aifx run JOB --anchors, once) and Fill (aifx run JOB --frames ..., one "
    "task per chunk; OpenJD's TASK_CHUNKING extension decides the chunks unless --portable lists them), and a "
    "last Sheet step (aifx run JOB --sheet) when the job asks for a contact sheet. Tasks "
    "report progress through OpenJD's stdout protocol and apply the session's path mapping to the job's paths, "
    "which must be absolute (on shared storage). See docs/farm.md."
)


def register_cli(subparsers: Any) -> None:
    export = subparsers.add_parser("export", help="export a job for a render farm")
    formats = export.add_subparsers(dest="format", metavar="FORMAT")
    openjd = formats.add_parser(
        "openjd",
        help="an Open Job Description template (AWS Deadline Cloud, openjd-cli)",
        description=DESCRIPTION,
    )
    path_argument(openjd, "job", help="job JSON file (absolute paths on shared storage)")
    path_argument(openjd, "-o", "--output", required=True, metavar="TEMPLATE.yaml", help="template to write")
    openjd.add_argument(
        "--chunk", type=int, help="frames per Fill task (default 50, at most 150 unless --portable)"
    )
    openjd.add_argument(
        "--portable",
        action="store_true",
        help="list the chunks as STRING ranges (no TASK_CHUNKING extension)",
    )
    path_argument(
        openjd, "--python", default="python", help="the workers' Python with aifx-core (default: python)"
    )
    openjd.set_defaults(handler=_cmd_export_openjd)
    export.set_defaults(handler=lambda args: _need_format(export))


def _need_format(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _cmd_export_openjd(args: argparse.Namespace) -> int:
    job = FillJob.load(args.job)
    job.validate()
    target = Path(args.output)
    if target.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise InputError(f"{target}: a job template is .yaml (or .json); e.g. -o template.yaml")
    if target.exists() and target.resolve() == Path(args.job).resolve():
        raise InputError(f"{target}: that is the job file; write the template elsewhere")
    template = build_template(job, args.job, chunk=args.chunk, portable=args.portable, python=args.python)
    write_template(template, target, protected_by(job, args.job))
    fill = template["steps"][1]["parameterSpace"]["taskParameterDefinitions"][0]
    how = (
        f"{len(fill['range'])} chunks" if args.portable else f"chunks of {args.chunk or DEFAULT_CHUNK} frames"
    )
    last = template["steps"][-1]["name"]
    command = ["openjd", "run", str(target), "--step", last, "--run-dependencies"]
    command += ["-p", f"JobFile={Path(args.job).absolute()}"]
    print(
        f"aifx: wrote {target} (Anchors, then Fill over {how}{', then Sheet' if last == 'Sheet' else ''}); "
        f"run it with: {shlex.join(command)}",
        file=sys.stderr,
    )
    return 0
