"""Open an input sequence and check it before any work starts; name the output frames.

All checks a long job can fail on late (pattern matches nothing, frames missing in the middle of the
range, requested frames not rendered) are done here, up front, from one folder listing, with messages that
say which frames and what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..protocol import events
from ..protocol.frames import refuse_output_type
from .frames import MAX_FRAMES, chosen_frames, format_frames, parse_frame_spec, split_trailing_range
from .guard import check_regular_file, current_folder, resolved_path
from .image import Image
from .imageio import FORMATS, read_image
from .pattern import FramePattern, parse_pattern, sequence_of_still, still_frame

#: Longest frame list spelled out in a message (irregular gaps in a long shot would fill the screen).
MESSAGE_PARTS = 20


def _frames_text(frames: list[int]) -> str:
    return format_frames(frames, max_parts=MESSAGE_PARTS)


class Sequence:
    """Frames of one input (plate, mask...) that exist on disk, in order.

    A still stands for every frame: :meth:`read` gives the same image whatever frame is asked for (and reads
    the file once).
    """

    def __init__(self, pattern: FramePattern, frames: list[int], role: str = "plate") -> None:
        self.pattern = pattern
        self.frames = list(frames)
        self.role = role
        self._still_cache: Image | None = None

    @property
    def is_still(self) -> bool:
        return self.pattern.is_still

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return f"Sequence({str(self.pattern)!r}, frames={format_frames(self.frames)!r})"

    def path(self, frame: int) -> Path:
        return self.pattern.path(frame)

    def read(self, frame: int) -> Image:
        """The image for ``frame`` (a still's one image for any frame)."""
        if self.is_still:
            if self._still_cache is None:
                self._still_cache = read_image(self.pattern.path(frame))
            return self._still_cache
        if frame not in self.frames:
            raise InputError(
                f"{self.pattern}: {self.role} frame {frame} is not in this sequence "
                f"({_frames_text(self.frames)}); {events.CHECK_FRAMES}"
            )
        return read_image(self.pattern.path(frame))


def open_sequence(
    spec: str | os.PathLike[str],
    frames: str | None = None,
    skip_missing: bool = False,
    role: str = "plate",
    fix_missing: str = "render them or pass --skip-missing",
    frames_name: str = "--frames",
) -> Sequence:
    """Find the frames of ``spec`` on disk and check they cover what is asked.

    ``frames`` is a frame spec (``"1001-1100"``); by default every frame from the first to the last on disk,
    so a gap in the render is an error unless ``skip_missing`` is set, in which case missing frames are left
    out. A still is used for every requested frame (by default its own frame number, see
    :func:`~aifx_core.sequence.pattern.still_frame`). A range after the pattern, as Nuke's file browser
    shows sequences (``"plate.####.exr 1001-1100"``), is used when ``frames`` is not given (``frames`` may narrow
    it, never reach outside it: :func:`~aifx_core.sequence.frames.chosen_frames`; a mask's is read for the
    plate's frames). ``fix_missing`` ends
    the message for missing frames (a command without ``--skip-missing`` says its own fix); ``frames_name`` is
    what messages call ``frames`` (a job's frames are its field, :data:`~aifx_core.sequence.frames.JOB_FRAMES`).
    """
    text, trailing = split_trailing_range(os.fspath(spec))
    if role == "mask":  # (read for the plate's frames: a mask rendered wider than the shot is fine)
        frames = frames if frames is not None else trailing
    else:
        frames = chosen_frames(os.fspath(spec), trailing, frames, frames_name)
    pattern = parse_pattern(text)
    requested = parse_frame_spec(frames, frames_name) if frames is not None else None
    if pattern.is_still:
        return _open_still(pattern, requested, role, frames_name)
    _check_extension(pattern, role)
    on_disk = pattern.discover()
    if not on_disk:
        raise InputError(_nothing_found(pattern, role))
    if requested is None:
        check_span(pattern, on_disk, frames_name)
    wanted = requested if requested is not None else list(range(on_disk[0], on_disk[-1] + 1))
    present = set(on_disk)
    available = [f for f in wanted if f in present]
    if not available:
        # A mask is asked for the plate's frames: none there is a mask numbered otherwise (1-8 for 1001-1008).
        fix = "number the mask frames like the plate's" if role == "mask" else f"check {frames_name}"
        raise InputError(none_requested(pattern, wanted, on_disk, f"{role} frames", fix))
    missing = [f for f in wanted if f not in present]
    if missing and not skip_missing:
        where = f" (on disk: {_frames_text(on_disk)})" if requested is not None else ""
        # Asked for beyond the shot's ends (a range typed from the edit, not the render): say what is there.
        beyond = requested is not None and (missing[0] < on_disk[0] or missing[-1] > on_disk[-1])
        limit = f"keep {frames_name} within {on_disk[0]}-{on_disk[-1]}, " if beyond else ""
        if role == "plate":
            limit = _on_steps(on_disk, available, frames_name) or limit
        raise InputError(
            f"{pattern}: {role} frames {_frames_text(missing)} missing{where}{_case_twin(pattern, missing)}; "
            f"{limit}{fix_missing}"
        )
    return Sequence(pattern, available, role)


def none_requested(pattern: FramePattern, wanted: list[int], on_disk: list[int], what: str, fix: str) -> str:
    """The one line for frames asked of ``pattern`` of which none is on disk (``what``: ``"plate frames"``, or
    plain ``"frames"`` for ``aifx info``), ending with ``fix``: the same words wherever a request finds nothing."""
    return (
        f"{pattern}: none of the requested {what} {_frames_text(wanted)} exist "
        f"(on disk: {_frames_text(on_disk)}); {fix}"
    )


def _case_twin(pattern: FramePattern, missing: list[int]) -> str:
    """`` (plate.1003.EXR is there ...)`` where a missing frame's file is in the folder under a name that differs
    only in case (a frame saved as ``.EXR`` by another tool): the pattern is matched exactly, as Linux names are,
    so the frame was called missing while the artist could see it. Empty when there is none."""
    if pattern.kind != "pattern":
        return ""
    try:
        names = os.listdir(pattern.folder)
    except OSError:
        return ""
    wanted = {f"{pattern.prefix}{pattern.format_number(f)}{pattern.suffix}".lower(): f for f in missing}
    for name in sorted(names):
        frame = wanted.get(name.lower())
        if frame is not None:
            expected = pattern.path(frame).name
            return f" ({name} is there, its name differs only in case: rename it to {expected})"
    return ""


def _on_steps(on_disk: list[int], available: list[int], frames_name: str) -> str:
    """For a plate rendered on twos (or threes...), the frames to ask for: ``1001-1008`` on a plate with
    1001-1007x2 is refused for 1002-1008x2, and within 1001-1007 it still would be; the shot's frames in the
    span asked for are ``1001-1007x2``. Empty when the frames on disk do not step evenly."""
    steps = {b - a for a, b in zip(on_disk, on_disk[1:], strict=False)}
    if len(on_disk) < 3 or len(steps) != 1 or min(steps) < 2:
        return ""
    (step,) = steps
    spec = format_frames(f for f in on_disk if available[0] <= f <= available[-1])
    on = {2: "is on twos", 3: "is on threes", 4: "is on fours"}.get(step, f"has a frame every {step}")
    ask = f"give {frames_name} {spec}" if frames_name.startswith("--") else f"set {frames_name} to {spec!r}"
    return f"the plate {on}: {ask}, "


def check_span(pattern: FramePattern, on_disk: list[int], frames_name: str = "") -> None:
    """Refuse frame numbers on disk that span more than :data:`~.frames.MAX_FRAMES`: no shot does, a stray
    file does (``plate.20231205.exr`` beside ``plate.1001.exr``), and every frame number between them was
    listed: gigabytes and seconds before any message. The message names the file that stands apart, and
    ``frames_name`` (the option or field that picks frames) where there is one."""
    if on_disk[-1] - on_disk[0] < MAX_FRAMES:
        return
    steps = [b - a for a, b in zip(on_disk, on_disk[1:], strict=False)]
    split = steps.index(max(steps)) + 1  # the widest gap: the fewer frames on one side are the strays
    strays = on_disk[split:] if len(on_disk) - split <= split else on_disk[:split]
    others = on_disk[:split] if strays[0] > on_disk[0] else on_disk[split:]
    raise InputError(
        f"{pattern}: {pattern.path(strays[0]).name} (frame {strays[0]}) is far from the other frames "
        f"({_frames_text(others)}): a stray file? move it out of the folder"
        + (f", or give the frames to use ({frames_name})" if frames_name else "")
    )


def _open_still(pattern: FramePattern, requested: list[int] | None, role: str, frames_name: str) -> Sequence:
    file = pattern.path(0)
    if file.is_dir():
        raise InputError(f"{file}: is a folder with no frames; check the path")
    if os.path.lexists(file):
        check_regular_file(file, role)  # a FIFO, device or symlink loop: say what it is
    if not file.is_file():
        where, fix = _read_from(file)
        raise InputError(
            f"{file}: {role} not found{where}; check the path (for a sequence use a frame token like "
            f"plate.####.exr){fix}"
        )
    _check_extension(pattern, role)
    frames = requested if requested is not None else [still_frame(file)]
    if role == "plate" and set(frames) != {still_frame(file)}:  # (its own frame alone is its own fill)
        _refuse_frame_of_sequence(pattern, frames, frames_name)
    return Sequence(pattern, frames, role)


def _refuse_frame_of_sequence(still: FramePattern, frames: list[int], frames_name: str) -> None:
    """Refuse a plate file that is one frame of a sequence beside it (``p/plate.1001.png``) asked for ``frames``
    other than its own: typed where the sequence was meant, it was read as a still, and every output frame held
    that one frame's plate (exit 0; ``--frames 1003`` wrote plate 1001 as frame 1003). Not called for the file's
    own frame alone: that is the file's own fill (a Blender Single Image, ``photos/IMG_0001.png`` beside
    ``IMG_0002.png``), which a refusal broke."""
    sequence = sequence_of_still(still)
    if sequence is None:
        return
    file, frame = still.path(0), still_frame(still.path(0))
    try:
        on_disk = f" ({_frames_text(sequence.discover())} on disk)"
    except InputError:
        on_disk = ""
    raise InputError(
        f"{file}: the plate is one frame of the sequence {sequence}{on_disk}, and one file is a still, the same "
        f"image for every frame asked ({_frames_text(frames)}); did you mean {sequence}? (to fill frame {frame} "
        f"alone, give that pattern with {frames_name} {frame})"
    )


def _check_extension(pattern: FramePattern, role: str) -> None:
    if pattern.kind == "folder":
        return
    if pattern.extension not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise InputError(f"{pattern}: {role} has unsupported image type '{pattern.extension}'; use {known}")


def _nothing_found(pattern: FramePattern, role: str) -> str:
    if pattern.kind == "folder":
        return f"{pattern}: {role} folder holds no images ({', '.join(sorted(FORMATS))}); check the path"
    where, fix = _read_from(pattern.folder)
    if not pattern.folder.is_dir():
        return f"{pattern}: {role} folder {pattern.folder} does not exist{where}; check the path{fix}"
    hint = "check the name and the padding"
    if pattern.padding > 1:
        hint += f" ({pattern.token} means {pattern.padding} digits, e.g. {pattern.path(1001).name})"
    return f"{pattern}: no {role} frames match{where}; {hint}{fix}"


def _read_from(path: Path) -> tuple[str, str]:
    """For the line saying a relative ``path`` is not there: where it was looked for, and the fix that adds.

    A relative path is read from the folder aifx runs in, also a job file's (``aifx run`` of a job saved with
    relative paths, from another folder than it was made in): the line named the path alone, as if it were
    wrong. Both are empty for an absolute path. (Where that folder no longer exists, :func:`parse_pattern`
    said so before anything was looked for.)"""
    if path.is_absolute():
        return "", ""
    here = current_folder(path)
    return (
        f" in {here}, the folder aifx runs in, which relative paths are read from",
        ", or run aifx from the folder they are relative to",
    )


def output_pattern(spec: str | os.PathLike[str], input_seq: Sequence) -> FramePattern:
    """The pattern output frames are written to, checked against the input.

    The output needs a frame token when the input has more than one frame, must be a file type aifx writes,
    and must never be the input itself (that would overwrite the plate). Its padding is the one the shot's
    frames are written with (:meth:`FramePattern.settled`: ``clean.$F.exr`` over 1001-1100 is ``clean.####.exr``),
    which its manifest, lock and cache are named from.
    """
    text = os.fspath(spec)
    try:
        folder = Path(text).is_dir()
    except OSError as exc:  # a name too long for the filesystem, say
        raise InputError(
            f"{text}: cannot use this output path ({exc.strerror or exc}); choose another"
        ) from None
    if folder or text.endswith(("/", os.sep)):
        raise InputError(
            f"{text}: output is a folder; give a file pattern inside it, like {Path(text) / 'clean.####.exr'}"
        )
    pattern = parse_pattern(text)
    refuse_output_type(text, pattern.extension)
    if pattern.is_still and len(input_seq) > 1:
        raise InputError(
            f"{text}: output needs a frame number like clean.####.exr (the input has {len(input_seq)} frames)"
        )
    for frame in input_seq.frames[:1] + input_seq.frames[-1:]:
        if _same_file(pattern.path(frame), input_seq.path(frame), input_seq.role):
            raise InputError(
                f"{text}: output would overwrite the input {input_seq.role}; choose another name"
            )
    check_outside_input_folder(pattern.path(input_seq.frames[0]), input_seq, text, "output")
    return pattern.settled(input_seq.frames)


def check_outside_input_folder(target: Path, input_seq: Sequence, text: str, what: str) -> None:
    """Refuse writing ``target`` (``what``, given as ``text``) into the folder ``input_seq`` was given as: every
    image there is one of its frames, so the next run (a resume, a rerun) read the outputs as frames too and
    stopped on ``clean.1001.png and plate.1001.png are both frame 1001`` (a contact sheet: ``has no frame
    number``). Refused up front rather than leaving the job's own files out of the folder: an earlier output's
    other name, ``aifx info`` or ``aifx eval`` of the folder would still read them."""
    if input_seq.pattern.kind != "folder":
        return
    try:
        inside = target.parent.resolve() == input_seq.pattern.folder.resolve()
    except (OSError, RuntimeError):
        return  # (a path that cannot be resolved is refused where it is written)
    if inside:
        role = input_seq.role
        raise InputError(
            f"{text}: the {what} goes into the {role} folder {input_seq.pattern}, where every image is read as a "
            f"{role} frame (a rerun would read it as {role} frames too); give the {role} as a pattern "
            f"({input_seq.pattern.hash_form()}) or write the {what} to another folder"
        )


def _same_file(a: Path, b: Path, role: str) -> bool:
    """Do ``a`` (an output frame) and ``b`` (an input frame, of ``role``) name one file after symlinks? Each is
    resolved on its own, so a loop is blamed on the path that has it: a plate frame linked to itself was
    reported as the output's loop."""
    output = resolved_path(
        a, f"{a}: the output path runs into a symlink loop; fix the link or choose another output"
    )
    return output == resolved_path(b, f"{b}: the {role} frame is a symlink loop; fix the link")
