"""Where a job may read and write: path mapping from the artist's OS, then the roots check.

Jobs carry paths on shared storage, never pixels. An artist on Windows writes ``Z:\\shots\\...``, the server
on Linux sees ``/mnt/shots/...``: ``--path-map RULES.json`` rewrites them with the OpenJD ``pathmapping-1.0``
rules (the format render farms use, so the farm export can share one file). Rules are tried longest
``source_path`` first and the first that matches a whole leading part of the path wins; Windows sources
match case-insensitively and with either slash.

Then every path the job reads or writes, with symlinks resolved, must sit under one of the ``--root``
folders: a symlink inside a root that points elsewhere is refused like the path it points to. Backend options
that name files are paths too (:data:`PATH_OPTIONS`): a model folder or checkpoint, a diffusers config, a
Hugging Face cache folder (which the worker writes into), a reference image. A ``model`` or ``config`` that is a
hub id (``org/name``, naming nothing on disk) is not a path and passes. So are what a run keeps beside its
output (its lock file, manifest, cache folder, confidence folder): a link planted there is written through.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

from ..anchors import CACHE_SUFFIX
from ..confidence import FOLDER as CONFIDENCE_FOLDER
from ..inpaint.models import (  # noqa: F401  (the loader's, re-exported here)
    PATH_OPTIONS,
    absolute_option_paths,
    absolute_options,
    option_paths,
    relative_options,
)
from ..manifest import LOCK_SUFFIX, MANIFEST_SUFFIX
from ..protocol.errors import InputError
from ..protocol.job import PATH_FIELDS, FillJob, relative_paths
from ..sequence import parse_pattern  # imported at start: not on the first artist's submit (numpy, OIIO)
from ..sequence.pattern import check_utf8

PATHMAPPING_VERSION = "pathmapping-1.0"


class PathRefused(Exception):
    """A path outside every root (the server answers 403 with this message)."""


@dataclass(frozen=True)
class PathRule:
    source_format: str  # "POSIX" or "WINDOWS"
    source: str
    destination: str

    def _parts(self, path: str) -> tuple[str, ...]:
        pure = PureWindowsPath(path) if self.source_format == "WINDOWS" else PurePosixPath(path)
        parts = pure.parts
        return tuple(p.lower() for p in parts) if self.source_format == "WINDOWS" else parts

    def apply(self, path: str) -> str | None:
        """The mapped path, or None when this rule does not match ``path``."""
        if self.source_format == "POSIX" and "\\" in path:
            return None
        source, candidate = self._parts(self.source), self._parts(path)
        if candidate[: len(source)] != source:
            return None
        original = (PureWindowsPath(path) if self.source_format == "WINDOWS" else PurePosixPath(path)).parts
        rest = original[len(source) :]
        return str(Path(self.destination).joinpath(*rest)) if rest else str(Path(self.destination))


def load_path_map(file: str | os.PathLike[str]) -> list[PathRule]:
    path = Path(file)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read path mapping rules ({exc}); see docs/serve.md") from None
    if not isinstance(data, dict) or data.get("version") != PATHMAPPING_VERSION:
        raise InputError(f'{path}: expected a JSON object with "version": "{PATHMAPPING_VERSION}"')
    rules: list[PathRule] = []
    for number, item in enumerate(data.get("path_mapping_rules") or [], 1):
        try:
            fmt = str(item["source_path_format"]).upper()
            rule = PathRule(fmt, str(item["source_path"]), str(item["destination_path"]))
        except (KeyError, TypeError):
            raise InputError(
                f"{path}: rule {number} needs source_path_format, source_path and destination_path"
            ) from None
        if fmt not in ("POSIX", "WINDOWS"):
            raise InputError(f"{path}: rule {number}: source_path_format must be POSIX or WINDOWS")
        rules.append(rule)
    # Longest source first: /mnt/shots/hero wins over /mnt/shots.
    return sorted(rules, key=lambda r: len(r._parts(r.source)), reverse=True)


def map_path(path: str, rules: list[PathRule]) -> str:
    for rule in rules:
        mapped = rule.apply(path)
        if mapped is not None:
            return mapped
    return path


def relative_job_paths(job: FillJob, field_label: str = "{} path") -> list[tuple[str, str]]:
    """Each path of ``job`` that is relative, as (label, path): its file fields (labelled ``field_label``
    with the field's name) then the options that name files (``option NAME``). A job run elsewhere (a
    server, a farm task) reads them against a working folder that is not the one they were written in."""
    named = [(field_label.format(name), value) for name, value in relative_paths(job).items()]
    return named + [(f"option {name}", value) for name, value in relative_options(job.options).items()]


def not_absolute_kind(value: str) -> Literal["windows", "home", "relative"]:
    """What a path :func:`relative_job_paths` found is, for the line that refuses it (the server's and the farm
    export's, in this order): a Windows path (``Z:\\...``, ``\\\\server\\...``) is not relative but of
    another machine, and a ``~`` path means this user's home, which a server or farm task reads as its own
    user's: "a relative path" would send the artist looking for the wrong mistake."""
    if PureWindowsPath(value).drive:
        return "windows"
    if value.startswith("~"):
        return "home"
    return "relative"


def map_job(job: FillJob, rules: list[PathRule]) -> FillJob:
    if not rules:
        return job
    changes: dict = {name: map_path(getattr(job, name), rules) for name in PATH_FIELDS if getattr(job, name)}
    mapped = {name: map_path(value, rules) for name, value in option_paths(job.options).items()}
    if mapped:
        changes["options"] = {**job.options, **mapped}
    return replace(job, **changes)


def check_absolute(job: FillJob) -> None:
    """Raise :class:`~aifx_core.protocol.errors.InputError` naming the first path that is not absolute after
    mapping: the worker's working folder is not the artist's, with or without ``--root``."""
    for label, value in relative_job_paths(job):
        kind = not_absolute_kind(value)
        if kind == "windows":  # on a server that is not Windows
            raise InputError(
                f"{label} {value} is a Windows path no --path-map rule of this server maps; "
                "ask its admin for a rule (docs/serve.md, path mapping)"
            )
        if kind == "home":
            raise InputError(
                f"{label} {value} starts with ~, which the server would read as its own home folder, not yours; "
                "give the full path on shared storage (aifx submit expands it)"
            )
        raise InputError(
            f"{label} {value} is relative: the server's working folder is not yours; "
            "give an absolute path on shared storage (aifx submit makes them absolute)"
        )


def check_names(job: FillJob) -> None:
    """Raise :class:`~aifx_core.protocol.errors.InputError` for the first path of ``job`` (a file field, an
    option that names a file) that no file name can be (:func:`~aifx_core.sequence.pattern.check_utf8`: a lone
    surrogate sent as ``\\ud800``): before :func:`check_roots`, whose resolving cannot encode it either and
    raised, a 500 instead of the 422 every other bad path gets."""
    named = [getattr(job, name) for name in PATH_FIELDS] + list(option_paths(job.options).values())
    for value in named:
        if value:
            check_utf8(value)


def check_roots(job: FillJob, roots: list[Path]) -> None:
    """Raise :class:`PathRefused` naming the first path (after symlinks) outside every root: the job's paths,
    the options that name files, then what the run keeps beside its output (:func:`_side_files`)."""
    resolved_roots = [Path(r).resolve() for r in roots]
    named = [(f"{name} path", getattr(job, name)) for name in PATH_FIELDS]
    named += [(f"option {name}", value) for name, value in option_paths(job.options).items()]
    for label, value in named:
        if not value:
            continue
        try:
            reals = _real_paths(value)
        except PathRefused as exc:
            raise PathRefused(f"{label} {exc}") from None
        _check_inside(label, value, reals, resolved_roots)
    for label, side in _side_files(job.output):
        _check_inside(label, str(side), [side.resolve()], resolved_roots)


def _check_inside(label: str, value: str, reals: list[Path], roots: list[Path]) -> None:
    """Raise :class:`PathRefused` for the first of ``reals`` (what ``value`` resolves to) under no root."""
    for real in reals:
        if not any(real == root or real.is_relative_to(root) for root in roots):
            plain = str(real) in (value, str(Path(value).parent))  # the path itself, or its folder
            shown = f"{value}" if plain else f"{value} (resolves to {real})"
            raise PathRefused(
                f"{label} {shown} is outside the server's roots "
                f"({', '.join(str(r) for r in roots)}); put it on shared storage under one"
            )


#: What a run keeps beside its output frames, by the end of the name (:func:`~aifx_core.sequence.beside_output`).
SIDE_SUFFIXES = {LOCK_SUFFIX: "lock file", MANIFEST_SUFFIX: "manifest", CACHE_SUFFIX: "cache folder"}


def _side_files(output: str) -> list[tuple[str, Path]]:
    """The files and folders already beside ``output`` that a run of it opens or writes into in place, as
    ``(label, path)``: its lock file, manifest and cache folder (in every padding that names them,
    ``.clean.####.exr.aifx.lock`` or ``.clean.#.exr.aifx.lock``, and as the pattern was typed) and the
    confidence folder, then the entries of those folders (the cache's key folders, the confidence frames).
    Written through, a link planted there took the run's writes out of the roots (the lock's owner record
    truncated a token file). What is not there yet is made in the output folder, which is checked."""
    typed = Path(output).expanduser()
    try:
        pattern = parse_pattern(str(typed))
        entries = list(os.scandir(typed.parent))
    except Exception:  # (an output the run refuses, a folder not there yet: nothing beside it to follow)
        return []
    if pattern.kind == "pattern":
        frames = re.escape(pattern.prefix) + "#+" + re.escape(pattern.suffix)
    else:
        frames = re.escape(Path(pattern.hash_form()).name)
    named = re.compile(rf"\.(?:{frames}|{re.escape(typed.name)})({'|'.join(map(re.escape, SIDE_SUFFIXES))})")
    found = []
    for entry in entries:
        match = named.fullmatch(entry.name)
        if match:
            found.append((f"output's {SIDE_SUFFIXES[match.group(1)]}", Path(entry.path)))
        elif entry.name == CONFIDENCE_FOLDER:
            found.append(("output's confidence folder", Path(entry.path)))
    inside = []
    for label, path in found:
        if path.is_dir() and not path.is_symlink():
            with contextlib.suppress(OSError):
                inside += [(f"{label}'s entry", Path(entry.path)) for entry in os.scandir(path)]
    return found + inside


def _real_paths(spec: str) -> list[Path]:
    """The folder a path or frame pattern lives in, and every existing file it names, symlinks resolved."""
    path = Path(spec).expanduser()
    if not path.is_absolute():
        raise PathRefused(f"{spec}: the server needs absolute paths on shared storage")
    reals = [path.parent.resolve()]
    if path.exists() or path.is_symlink():
        reals.append(path.resolve())
        if path.is_file():
            return reals
    try:
        pattern = parse_pattern(spec)
        frames = pattern.discover()
    except Exception:  # a pattern naming nothing yet (an output): the folder is what counts
        return reals
    reals.extend(Path(pattern.path(frame)).resolve() for frame in frames)
    return reals
