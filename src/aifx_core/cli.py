"""The ``aifx`` command line.

Exit codes: 0 success, 2 bad input or usage (one line on stderr naming the file/frame and the fix), 1 an
internal failure (a bug: the traceback is printed so it can be reported), 130 cancelled. With
``--json-progress`` every event is one JSON object per line on stdout, which is what the Blender and Nuke
adapters read; otherwise a progress bar is drawn when stderr is a terminal and nothing when it is not.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields
from types import FrameType
from typing import Any, NoReturn, TextIO, cast

from . import __version__
from .arguments import PATH, PATH_OR_NAME, path_argument, path_kind
from .printing import ProgressPrinter, emit_event, events_alone_on_stdout, stdout_unwritable
from .progress import CancelToken
from .protocol import events
from .protocol.errors import EXIT_CANCELLED, EXIT_INTERNAL, AifxError, Cancelled, InputError
from .protocol.job import FillJob, refuse_empty_path
from .workers import in_thread_machinery, shielded, signal_shield

#: Modules that add their own subcommand through ``register_cli(subparsers)``.
PLUGIN_COMMANDS = (
    "aifx_core.backends",
    "aifx_core.evaluate",
    "aifx_core.storyboard",
    "aifx_core.previz",
    "aifx_core.serve",
    "aifx_core.submit",
    "aifx_core.farm",
)

#: ``aifx fill`` flags that become backend options (flag name → option key, type).
BACKEND_OPTION_FLAGS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    (
        "--spatial-backend",
        "spatial_backend",
        str,
        "backend for what no frame saw (propagate): telea, lama, diffusers",
    ),
    (
        "--model",
        "model",
        str,
        "model: hub id, local folder or checkpoint file (diffusers), TorchScript file (lama)",
    ),
    ("--prompt", "prompt", str, "what to generate in the hole"),
    ("--negative-prompt", "negative_prompt", str, "what not to generate"),
    ("--steps", "steps", int, "diffusion steps"),
    ("--guidance", "guidance", float, "classifier-free guidance scale"),
    ("--strength", "strength", float, "img2img strength, 0..1"),
    ("--scheduler", "scheduler", str, "diffusers scheduler class name, e.g. EulerDiscreteScheduler"),
    ("--reference", "reference", str, "video-diffusion: image of the element to generate (reference image)"),
    ("--window", "window", int, "video-diffusion: frames the model sees at once (default 81)"),
    ("--overlap", "overlap", int, "video-diffusion: frames shared by consecutive windows (default 16)"),
    (
        "--keyframes",
        "keyframes",
        str,
        "frames the model fills, at most one per block of keyframe_interval frames (default 4), e.g. 1001,1050; "
        "set --option keyframe_interval for fewer blocks (default: each block's frame with the largest matte area)",
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    with _stderr_or_nowhere(), _watched_stdout() as stdout:
        return _main(argv, stdout)


@contextlib.contextmanager
def _stderr_or_nowhere() -> Iterator[None]:
    """``sys.stderr`` a stream that drops what is written while inside, where there is none (started with it
    closed, ``2>&-``: Python makes it None): ``sys.stderr.isatty()`` raised an AttributeError before the first
    frame, and ``print(..., file=sys.stderr)`` wrote to stdout instead, among ``--json-progress``'s events. File
    descriptor 2 is taken by /dev/null too where it is closed, so no file the run opens gets it and takes what a
    library writes to it (the image libraries' messages, a child process's stderr)."""
    before = sys.stderr
    if before is not None:
        yield
        return
    _hold_descriptor(2)
    with open(os.devnull, "w", encoding="utf-8") as nowhere:
        sys.stderr = nowhere
        try:
            yield
        finally:
            if sys.stderr is nowhere:  # (put back for a host that called main)
                sys.stderr = before


def _hold_descriptor(fd: int) -> None:
    """Point the closed file descriptor ``fd`` at /dev/null; one that is open is left as it is."""
    try:
        os.fstat(fd)
        return
    except OSError:
        pass
    null = os.open(os.devnull, os.O_WRONLY)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)


class _WatchedStdout:
    """``sys.stdout`` while a command runs: its writes go to the real stream, and one that fails (a full disk,
    ``> /dev/full``) is kept as :attr:`failed`, so ``main`` tells it from any other OSError: it was a traceback and
    "internal error", exit 1, for ``aifx info``, ``backends``, ``eval``. A closed pipe is left to BrokenPipeError."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.failed: OSError | None = None

    def write(self, text: str) -> int:
        return self._kept(lambda: self.stream.write(text))

    def flush(self) -> None:
        self._kept(self.stream.flush)

    def _kept(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.failed = exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def _watched_stdout() -> Iterator[_WatchedStdout | None]:
    """``sys.stdout`` a :class:`_WatchedStdout` while inside (put back after, for a host that called main); None
    where there is no stdout (``>&-``)."""
    before = sys.stdout
    if before is None:
        yield None
        return
    watched = _WatchedStdout(before)
    sys.stdout = cast(TextIO, watched)
    try:
        yield watched
    finally:
        if sys.stdout is watched:
            sys.stdout = before


class _HelpUnwritable(Exception):
    """A help or version text that stdout did not take; ``prog``: the parser that printed it (``aifx fill``)."""

    def __init__(self, prog: str, error: OSError) -> None:
        super().__init__(prog)
        self.prog = prog
        self.error = error


class _Parser(argparse.ArgumentParser):
    """argparse's parser (and, as their ``parser_class``, every subcommand's), except that a help or version text
    stdout does not take is said: argparse drops the OSError of its print and exits 0, so ``aifx --help >
    /dev/full`` ended silently with success where every other command's output gives its one line, exit 2."""

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        """Exit as argparse does, unless what the help or version action printed (status 0) failed to reach the
        :class:`_WatchedStdout` of :func:`main`: then :class:`_HelpUnwritable`, for ``_main`` to say."""
        watched = sys.stdout
        if status == 0 and isinstance(watched, _WatchedStdout):
            with contextlib.suppress(
                OSError
            ):  # (its failure is kept in .failed; a closed pipe is left quiet)
                watched.flush()
            if watched.failed is not None:
                raise _HelpUnwritable(self.prog, watched.failed)
        super().exit(status, message)


def _help_asked(prog: str, argv: Sequence[str]) -> str:
    """What printed the help or version text, as the user typed it after ``aifx`` (``fill --help``; argparse
    takes ``--vers`` for ``--version``): ``prog``'s subcommands and the first item of ``argv`` naming either."""
    return " ".join([*prog.split()[1:], _help_flag(argv)])


def _help_flag(argv: Sequence[str]) -> str:
    """The first item of ``argv`` that names the help or version option; ``--help`` where none does."""
    for item in argv:
        if item == "-h" or (len(item) > 2 and ("--help".startswith(item) or "--version".startswith(item))):
            return item
    return "--help"


def _main(argv: Sequence[str] | None, stdout: _WatchedStdout | None = None) -> int:
    parser = build_parser()
    items = joined_frame_ranges(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(items)
    except _HelpUnwritable as exc:
        return _stdout_failed(_help_asked(exc.prog, items), exc.error)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    json_progress = bool(getattr(args, "json_progress", False))
    openjd = bool(getattr(args, "openjd_progress", False))
    try:
        _refuse_stray_bytes(parser, args)
        code = int(args.handler(args) or 0)
        if (
            stdout is not None
        ):  # (what it printed written now: a full disk is its line, not a failure at exit)
            stdout.flush()
        return code
    except Cancelled as exc:
        _final(json_progress, events.cancelled_event(str(exc)), openjd)
        print(f"aifx: {exc}", file=sys.stderr)
        return exc.exit_code
    except AifxError as exc:
        _final(json_progress, events.error_event(str(exc), exc.exit_code), openjd)
        print(f"aifx: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _final(json_progress, events.cancelled_event("interrupted"), openjd)
        print("aifx: interrupted; finished frames are kept and a rerun resumes after them", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # the reader of stdout went away (| head, a wrapper that stopped reading)
        return _reader_gone()
    except OSError as exc:
        if stdout is None or exc is not stdout.failed:
            return _internal_error(exc, json_progress, openjd)
        return _stdout_failed(args.command, exc)
    except Exception as exc:  # a bug: say so, with the traceback for the report
        return _internal_error(exc, json_progress, openjd)


def _internal_error(exc: Exception, json_progress: bool, openjd: bool) -> int:
    """A bug: said so, with the traceback for the report."""
    _final(json_progress, events.error_event(f"internal error: {exc}", EXIT_INTERNAL), openjd)
    traceback.print_exc()
    print(f"aifx: internal error: {exc} (please report it with the traceback above)", file=sys.stderr)
    return EXIT_INTERNAL


def _stdout_failed(command: str, exc: OSError) -> int:
    """The one line for what a command prints that stdout did not take (exit 2, as for --json-progress's events).
    Stdout is pointed at /dev/null, so the flush at exit does not fail again on what its buffer still holds."""
    _stdout_to_nowhere()
    error = InputError(
        stdout_unwritable(f"what aifx {command} prints", exc.strerror or exc, "it", ", and rerun")
    )
    print(f"aifx: error: {error}", file=sys.stderr)
    return error.exit_code


def _refuse_stray_bytes(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a text argument (not a path) holding bytes that are not UTF-8, typed or pasted in another encoding
    (Python hands them on as U+DC80-U+DCFF): they were judged as a job's JSON (``--colorspace ("sRGB\\udcff")
    holds a lone UTF-16 surrogate ... (a broken \\u escape in the job's JSON?)``) or echoed as ``\\udcff``. The
    line names the option and the value as typed, with the byte, before anything is read or written. The
    arguments that name files are read from the parser's marks (:mod:`.arguments`)."""
    kinds = {action.dest: path_kind(action) for action in _chosen_actions(parser, args)}
    for dest, value in vars(args).items():
        if kinds.get(dest) == PATH:
            continue  # (the path checks' to refuse, as they come in)
        for text in value if isinstance(value, list) else [value]:
            byte = _stray_byte(text) if isinstance(text, str) else None
            if byte is None:
                continue
            path = _named_path(kinds.get(dest), text, dest == "option")
            if path is None:
                raise InputError(_stray_byte_line(parser, args, dest, text, byte))
            from .sequence.pattern import check_utf8  # (no later check reads a model option's path by name)

            check_utf8(path, "so torch, diffusers and the image libraries cannot open it")


def _named_path(kind: str | None, text: str, option: bool) -> str | None:
    """The path that an argument's ``text`` names (``kind``: its mark), or that an ``--option`` item sets
    (``option``); None when it is text (a name, a colourspace): ``--option`` sets a path when its key is one of
    the options that name files; a ``--model`` (or ``--option model=``) value names a path when it
    looks like one or is on disk, else it is a hub id or a model name, whose stray byte the hub's or LaMa's
    refusal echoed as ``\\udcff``."""
    from .inpaint.models import PATH_OPTIONS  # (only for an argument with a stray byte: a light start)

    if option:
        key, sep, text = text.partition("=")
        kind = {"path": PATH, "model": PATH_OR_NAME}.get(PATH_OPTIONS.get(key, "")) if sep else None
    if kind == PATH or (kind == PATH_OR_NAME and _names_a_model_path(text)):
        return text
    return None


def _names_a_model_path(value: str) -> bool:
    """Whether a ``model``/``config`` value is a path, as :func:`~.inpaint.models.option_paths` tells it."""
    from pathlib import Path

    from .inpaint.models import looks_like_path

    text = value.strip()
    return looks_like_path(text) or os.path.lexists(Path(text).expanduser())


def _stray_byte(text: str) -> str | None:
    """The first byte of ``text`` that is not UTF-8, as ``\\xff`` (Python's escape U+DCFF for it); None: none."""
    found = next((char for char in text if "\udc80" <= char <= "\udcff"), None)
    return None if found is None else f"\\x{ord(found) - 0xDC00:02x}"


def _stray_byte_line(
    parser: argparse.ArgumentParser, args: argparse.Namespace, dest: str, text: str, byte: str
) -> str:
    """The one line for the argument ``text`` of ``dest`` holding ``byte``, named as the parser took it: the
    option that set ``dest`` (``--colorspace sRGB\\xff``, however it was typed: ``--colorspace=...``,
    ``--colors``), or the positional (``telea\\xff (the name argument)``). Named from what precedes it in argv,
    ``backends --json telea\\xff`` named the value-less ``--json``."""
    from .sequence.pattern import shown_name

    action = next((a for a in _chosen_actions(parser, args) if a.dest == dest), None)
    options = action.option_strings if action is not None else []
    named = (
        f"{next((o for o in options if o.startswith('--')), options[0])} {shown_name(text)}"
        if options
        else f"{shown_name(text)} (the {dest} argument)"
    )
    return (
        f"{named}: the byte {byte} is not UTF-8 (typed or pasted in another encoding, such as Latin-1?); "
        "retype it in UTF-8 and rerun"
    )


def _chosen_actions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[argparse.Action]:
    """The actions of ``parser`` and of the subcommands ``args`` were parsed with (``serve token add``): the
    same ``dest`` may be another option in another subcommand."""
    actions = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and action.choices:
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                actions += _chosen_actions(chosen, args)
    return actions


#: The flags of :data:`BACKEND_OPTION_FLAGS` that name files, by option key: the kinds
#: ``inpaint.models.PATH_OPTIONS`` gives them (not imported for a light start; tests/test_cli.py checks they agree).
OPTION_PATH_KINDS = {"model": PATH_OR_NAME, "reference": PATH}


#: Options whose value is a frame range (every command that has them: fill, run, info, eval), which may start
#: with "-" (a shot's negative frames).
FRAME_RANGE_FLAGS = ("--frames", "--keyframes")


def joined_frame_ranges(argv: Sequence[str]) -> list[str]:
    """``argv`` with a frame range that starts with ``-`` joined to its option (``--frames -3-2`` →
    ``--frames=-3-2``): argparse takes such an item for an option and stopped with "expected one argument",
    although ``aifx info`` prints a shot's range so and frames.py documents ``-5--1``. Only an item written as a
    frame spec right after one of :data:`FRAME_RANGE_FLAGS` is joined; anything after ``--`` is left alone."""
    from .sequence.frames import looks_like_frame_spec

    items = list(argv)
    joined: list[str] = []
    index = 0
    while index < len(items):
        item = items[index]
        if item == "--":
            joined.extend(items[index:])
            break
        following = items[index + 1] if index + 1 < len(items) else ""
        if item in FRAME_RANGE_FLAGS and following.startswith("-") and looks_like_frame_spec(following):
            joined.append(f"{item}={following}")
            index += 2
        else:
            joined.append(item)
            index += 1
    return joined


def _backend_help(default: str) -> str:
    """``--backend``'s help: every built-in backend, from the table the registry is checked against (a
    hand-kept list left out video-diffusion), without loading the registry (and numpy) to print help."""
    from .protocol.backend_options import READS

    others = [name for name in READS if name != default]
    return f"{default} (default), {', '.join(others)}; 'aifx backends' lists them with any plugins"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aifx", description="Temporally consistent AI fill for image sequences.")
    parser.add_argument("--version", action="version", version=f"aifx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    fill = sub.add_parser(
        "fill", help="fill the masked area of a plate sequence", description=fill_description()
    )
    path_argument(
        fill, "input", help="plate: plate.####.exr, plate.%%04d.exr, plate.$F4.exr, a folder or one image"
    )
    path_argument(fill, "-o", "--output", required=True, help="output pattern, e.g. clean.####.exr")
    _add_job_arguments(fill)
    path_argument(
        fill,
        "--save-job",
        metavar="JOB.json",
        help="also save the job description to this file, its paths made absolute: aifx run (or a farm) reads the "
        "same files from any folder",
    )
    fill.set_defaults(handler=_cmd_fill)

    run = sub.add_parser("run", help="run a saved job (JSON written by FillJob.to_json or --save-job)")
    path_argument(run, "job", help="job JSON file")
    run.add_argument("--overwrite", action="store_true", default=None, help="replace finished frames")
    run.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    run.add_argument(
        "--openjd-progress",
        action="store_true",
        help="openjd_progress:/openjd_status:/openjd_fail: lines on stdout (an OpenJD farm task)",
    )
    path_argument(
        run,
        "--path-map",
        metavar="RULES.json",
        help="apply these path mapping rules (OpenJD pathmapping-1.0) to the job's paths",
    )
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: chunks on a Ray cluster (aifx-core[ray], docs/farm.md)",
    )
    run.add_argument(
        "--address", help="--executor ray: the cluster (auto, ray://head:10001); default: start a local Ray"
    )
    run.add_argument("--chunk", type=int, help="--executor ray: frames per chunk (default 50)")
    run.add_argument("--workers", type=int, help="--executor ray: worker processes (default: what fits)")
    run.add_argument(
        "--frames",
        metavar="RANGE",
        help="write only these frames of the job's shot, e.g. 1026-1050 (a farm chunk): bit-identical to "
        "the same frames of a whole run",
    )
    run.add_argument(
        "--anchors",
        action="store_true",
        help="run only the anchors stage (the shot's keyframes, decided and filled once, cached beside the "
        "output for every chunk); with --overwrite it is rebuilt",
    )
    run.add_argument(
        "--sheet",
        action="store_true",
        help="write the job's contact sheet of the whole shot once every chunk is done (a farm's last task; "
        "finished frames are never refilled, whatever the job's overwrite)",
    )
    run.set_defaults(handler=_cmd_run)

    info = sub.add_parser("info", help="describe a sequence: range, gaps, resolution, channels, colourspace")
    path_argument(info, "input", help="sequence: plate.####.exr, plate.%%04d.exr, a folder or one image")
    info.add_argument("--frames", help="frame range, e.g. 1001-1100, 1001-1100x2 or 1001-1010,1020")
    info.add_argument(
        "--json", action="store_true", help="print it as one JSON object (for pipeline scripts)"
    )
    info.set_defaults(handler=_cmd_info)

    for module_name in PLUGIN_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        module.register_cli(sub)
    return parser


def fill_description() -> str:
    return (
        "Remove or replace what the mask covers. The default backend 'propagate' brings in background seen in "
        "other frames along the optical flow and invents only what no frame saw, so the fill does not flicker. "
        "Pixels outside the dilated, feathered mask are copied bit for bit."
    )


def _add_job_arguments(p: argparse.ArgumentParser) -> None:
    defaults = FillJob(input="", output="")
    path_argument(p, "-m", "--mask", help="mask sequence or still image (default: the plate's alpha)")
    p.add_argument("--mask-channel", help="channel holding the matte, e.g. A or mask.Y")
    p.add_argument("--invert-mask", action="store_true", help="fill where the matte is 0 instead of 1")
    p.add_argument(
        "--threshold",
        type=float,
        default=defaults.threshold,
        help="a matte value at or above this is hole; 0: any value above 0 (default %(default)s)",
    )
    p.add_argument(
        "--frames",
        help="frame range, e.g. 1001-1100, 1001-1100x2 (every 2nd) or 1001-1010,1020 (default: all found)",
    )
    p.add_argument(
        "--skip-missing", action="store_true", help="skip missing frames instead of failing on gaps"
    )
    p.add_argument("-b", "--backend", default=defaults.backend, help=_backend_help(defaults.backend))
    for flag, key, kind, text in BACKEND_OPTION_FLAGS:
        if key in OPTION_PATH_KINDS:
            path_argument(p, flag, type=kind, help=text, kind=OPTION_PATH_KINDS[key])
        else:
            p.add_argument(flag, type=kind, help=text)
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other backend option (value parsed as JSON when it can be)",
    )
    p.add_argument(
        "--dilate", type=int, default=defaults.dilate, help="grow the hole by N pixels (default %(default)s)"
    )
    p.add_argument(
        "--feather",
        type=int,
        default=defaults.feather,
        help="soften the fill edge over N pixels outside the hole (default %(default)s): blends the pixels a "
        "backend changes around the hole into the plate; propagate and telea change none there (their fill meets "
        "the plate at the hole's edge), so it changes nothing for them: grow --dilate to move their edge",
    )
    p.add_argument(
        "--colorspace", help="colourspace of the plate (default: scene-linear for EXR, sRGB for 8-bit)"
    )
    p.add_argument(
        "--compression",
        help="output compression (default: the input's): EXR zip, piz, dwaa...; PNG zip (level 1), zip:0-9, none",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="random seed of the generative backends: the same seed, the same fill (default %(default)s)",
    )
    p.add_argument("--device", default=defaults.device, help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument(
        "--overwrite", action="store_true", help="replace existing output frames instead of resuming"
    )
    path_argument(p, "--contact-sheet", metavar="PNG", help="write a before/after contact sheet here")
    p.add_argument(
        "--confidence",
        action="store_true",
        help="also write the fill's confidence: EXR channel fill.confidence, or a confidence/ PNG sequence",
    )
    p.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")


def _job_from_args(args: argparse.Namespace) -> FillJob:
    options: dict[str, Any] = {}
    for _flag, key, _kind, _text in BACKEND_OPTION_FLAGS:
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    for item in args.option:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InputError(f"--option {item!r}: expected KEY=VALUE, e.g. --option flow_preset=fast")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw
    if "keyframes" in options and isinstance(options["keyframes"], str):
        from .sequence import parse_frame_spec

        options["keyframes"] = parse_frame_spec(options["keyframes"], "--keyframes")
    # Every other job field has a flag of the same name (see _add_job_arguments).
    settings = {f.name: getattr(args, f.name) for f in fields(FillJob) if f.name != "options"}
    return FillJob(**settings, options=options)


def _cmd_fill(args: argparse.Namespace) -> int:
    from .backends import check_options

    job = _job_from_args(args)
    try:
        job.validate()  # a bad value is refused before anything, the saved job included, is written
    except InputError as exc:
        raise InputError(_in_flag_words(str(exc))) from None
    check_options(job.backend, job.options)  # (as fill() does first: a bad option is named before the plate)
    _check_frames_flag(job)
    # Saved only after every check has passed (never over an input, never for a job that cannot run).
    return _run_job(job, args.json_progress, save_job=args.save_job)


def _in_flag_words(message: str) -> str:
    """A job's refusal (``job field "device" is 'tpu'``) in the words of ``aifx fill``, whose user gave a flag
    (``--device is 'tpu'``), never saw a job field: every job field but the plate has a flag of its name."""
    return re.sub(
        r'job field "(\w+)"',
        lambda m: "the plate" if m[1] == "input" else "--" + m[1].replace("_", "-"),
        message,
    )


def _check_frames_flag(job: FillJob) -> None:
    """``aifx fill --frames`` checked against the plate here, so a bad one is named as the flag given: the
    pipeline names a job's ``"frames"`` field, which is what a job file, the API or an adapter gave. (Also
    without --frames: a stray far-off file's refusal then suggests the flag, not a job field.)"""
    from .sequence import open_sequence

    open_sequence(job.input, frames=job.frames, skip_missing=job.skip_missing, role="plate")


def _cmd_run(args: argparse.Namespace) -> int:
    job = FillJob.load(args.job)
    if args.path_map is not None:  # before anything reads a path (the anchors stage too)
        from .farm.openjd import map_job_paths

        # --path-map "$RULES" with RULES unset ran the job on its unmapped paths, exit 0. (An OpenJD session's
        # {{Session.PathMappingRulesFile}} is always a file, ``{}`` when it has no rules.)
        refuse_empty_path(
            args.path_map,
            "rules file",
            '--path-map ""',
            "to use the job's paths as they are, or give a pathmapping-1.0 file such as rules.json",
        )
        job = map_job_paths(job, args.path_map)
    ray_flags = [f"--{n}" for n in ("address", "chunk", "workers") if getattr(args, n) is not None]
    if args.executor == "ray":
        if args.frames or args.anchors or args.sheet:
            raise InputError(
                "--executor ray runs the anchors, every chunk and the sheet itself; leave out "
                "--frames/--anchors/--sheet"
            )
        from functools import partial

        from .farm import run_on_ray

        job.overwrite = job.overwrite or bool(args.overwrite)
        run = partial(run_on_ray, address=args.address, chunk=args.chunk, workers=args.workers)
        with events_alone_on_stdout(args.json_progress):  # Ray prints to stdout (a worker's death)
            return _run_job(job, args.json_progress, job_file=args.job, run=run, openjd=args.openjd_progress)
    if ray_flags:
        raise InputError(f"{', '.join(ray_flags)}: only with --executor ray")
    if args.sheet:
        if args.frames or args.anchors or args.overwrite:
            raise InputError(
                "--sheet writes the finished shot's contact sheet; leave out --frames/--anchors/--overwrite"
            )
        if job.contact_sheet is None:  # (an empty one is refused with the rest of the job)
            raise InputError(f"{args.job}: the job has no contact_sheet; --sheet has nothing to write")
        from .pipeline import sheet_only

        return _run_job(sheet_only(job), args.json_progress, job_file=args.job, openjd=args.openjd_progress)
    if args.anchors:
        if args.frames:
            raise InputError("--anchors prepares the whole shot; run --frames chunks after it")
        return _run_anchors(
            job, args.json_progress, rebuild=bool(args.overwrite), openjd=args.openjd_progress
        )
    if args.overwrite:
        job.overwrite = True
    return _run_job(
        job, args.json_progress, job_file=args.job, frames=args.frames, openjd=args.openjd_progress
    )


def _run_anchors(job: FillJob, json_progress: bool, rebuild: bool, openjd: bool = False) -> int:
    """The whole-shot stage of a farm job (OpenJD's Anchors step): the anchors, and what only the whole shot
    tells (a mask empty on every frame), since each chunk after it sees its own frames only."""
    from .pipeline import prepare_anchors, whole_shot_notices

    cancel = CancelToken()
    with (
        _cancel_on_signals(cancel),
        ProgressPrinter(json_progress, openjd_line if openjd else None) as on_progress,
    ):
        folder = prepare_anchors(job, progress=on_progress, cancel=cancel, rebuild=rebuild)
    done = events.done_event(job.output, [], [], None, anchors=folder, notices=whole_shot_notices(job))
    print_notices(done)
    if json_progress:
        emit_event(done)
    else:
        if openjd:
            openjd_line(done)
        print(f"anchors in {folder}" if folder else "this backend needs no anchors", file=sys.stderr)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .sequence.info import describe, facts

    if args.json:
        print(json.dumps(facts(args.input, frames=args.frames), indent=2))
    else:
        print(describe(args.input, frames=args.frames))
    return 0


def _run_job(
    job: FillJob,
    json_progress: bool,
    save_job: str | None = None,
    job_file: str | None = None,
    frames: str | None = None,
    *,
    run: Callable[..., Any] | None = None,
    openjd: bool = False,
) -> int:
    """Run ``job`` with ``run`` (``pipeline.fill``, or an executor with its signature) and report it."""
    from .pipeline import fill

    cancel = CancelToken()
    with (
        _cancel_on_signals(cancel),
        ProgressPrinter(json_progress, openjd_line if openjd else None) as on_progress,
    ):
        if run is None:
            result = fill(
                job, progress=on_progress, cancel=cancel, frames=frames, save_job=save_job, job_file=job_file
            )
        else:
            result = run(job, progress=on_progress, cancel=cancel, job_file=job_file)
    done = done_event(result)
    print_notices(done)
    if json_progress:
        emit_event(done)
    else:
        if openjd:
            openjd_line(done)
        print(done_summary(done), file=sys.stderr)
    return 0


def done_event(result: Any) -> dict:
    """The ``done`` event of a finished run (``aifx serve``'s worker sends this same one)."""
    return events.done_event(
        result.output, result.written, result.skipped, result.contact_sheet, notices=result.notices
    )


def print_notices(done: dict) -> None:
    """What the output could not keep, on stderr in every mode (JSON progress owns stdout)."""
    for notice in events.notices(done):
        print(f"aifx: {notice}", file=sys.stderr)


def done_summary(done: dict) -> str:
    """The line a local run prints at the end (``aifx submit`` prints it from the server's ``done`` event)."""
    written, skipped = done.get("written") or [], done.get("skipped") or []
    summary = f"{len(written)} frame(s) written to {done.get('output')}"
    if skipped:
        summary += f", {len(skipped)} already done"
    if done.get("contact_sheet"):
        summary += f"; contact sheet {done['contact_sheet']}"
    return summary


@contextlib.contextmanager
def _cancel_on_signals(cancel: CancelToken) -> Iterator[None]:
    """SIGTERM (what the adapters send for Cancel) and Ctrl-C cancel at once, wherever the job is, even blocked
    in a read, but for a few short sections a raise would break (:func:`~aifx_core.workers.signal_shield`,
    the thread machinery: :func:`~aifx_core.workers.in_thread_machinery`): there the handler only sets the
    cancel flag, and the next progress check raises (or the next signal, once out of it).

    SIGTERM raises :class:`Cancelled`, Ctrl-C KeyboardInterrupt as Python's own handler does: temp files are
    removed on the way out, frames are renamed into place only whole, and the manifest's intent record makes a
    stop between a rename and its record recoverable, so stopping mid-frame loses nothing but the frame in
    hand. Ctrl-C is taken over only where Python's default handler has it (a runner started in the background
    ignores SIGINT, and so do we). The handlers before are back once the job ends (``main`` called in a host).
    """
    raised = False

    def handler(make: Callable[[], BaseException], again: bool) -> Callable[[int, FrameType | None], None]:
        """``again``: a second signal raises when the first only set the flag (a second Ctrl-C while no
        progress check comes, e.g. a model loading); a second SIGTERM never does: the cancel is under way."""

        def on_signal(_sig: int, frame: FrameType | None) -> None:
            nonlocal raised
            if raised or (cancel.cancelled and not again):  # already unwinding: do not interrupt the clean-up
                return
            cancel.cancel()
            if shielded() or in_thread_machinery(frame):
                return
            raised = True
            raise make()

        return on_signal

    on_term = handler(
        lambda: Cancelled("cancelled; finished frames are kept and a rerun resumes after them"), False
    )
    wanted = {signal.SIGTERM: on_term}
    if hasattr(signal, "SIGBREAK"):
        wanted[signal.SIGBREAK] = on_term
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        wanted[signal.SIGINT] = handler(KeyboardInterrupt, True)
    before = {sig: signal.getsignal(sig) for sig in wanted}
    try:
        for sig, on_signal in wanted.items():
            signal.signal(sig, on_signal)
    except ValueError:  # not the main thread (embedded use): the caller's own token still works
        before = {}
    try:
        yield
    finally:
        for sig, previous in before.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


def _final(json_progress: bool, payload: dict, openjd: bool = False) -> None:
    """The run's last event on stdout (for a reader that is gone, nothing: the message on stderr says it)."""
    with contextlib.suppress(BrokenPipeError, InputError):  # (stdout gone: the message on stderr says it)
        if json_progress:
            emit_event(payload)
        elif openjd:
            openjd_line(payload)


#: Exit code when stdout's reader went away: the shell's for a process a closed pipe stopped (128 + SIGPIPE).
EXIT_PIPE_CLOSED = 141


def _reader_gone() -> int:
    """Stop quietly when stdout's reader has gone (``aifx info --json | head -1``, an adapter that stopped
    reading): not an internal error with two tracebacks. Stdout is pointed at /dev/null so the flush at exit
    does not fail again; the frames finished so far are kept, as for a cancel."""
    _stdout_to_nowhere()
    with contextlib.suppress(OSError):
        print(
            "aifx: stopped: what read its output closed it; frames already written are kept", file=sys.stderr
        )
    return EXIT_PIPE_CLOSED


def _stdout_to_nowhere() -> None:
    """Point stdout's descriptor at /dev/null: what its buffer still holds goes nowhere at exit, where flushing it
    onto what failed would fail again (Python then prints "Exception ignored" and exits 120)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


_openjd_progress: Any = None


def openjd_line(payload: dict) -> None:
    """An event as OpenJD's stdout protocol (``aifx run --openjd-progress``, a farm task). Here, not in
    :mod:`.progress`: the farm module stands floors above it."""
    global _openjd_progress
    if _openjd_progress is None:
        from .farm.openjd import OpenJDProgress

        _openjd_progress = OpenJDProgress()
    with signal_shield():
        _openjd_progress(payload)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
