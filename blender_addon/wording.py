"""The core's messages in Blender's words: where the artist sets a thing in Blender, not the CLI flag.

The core writes its errors for the command line (``pass --overwrite``, ``check --frames``); an artist in
Blender sets the same things in the AI Fill panel. No ``bpy`` here.
"""

from __future__ import annotations

import re

from .aifx_protocol import events

#: The job's frames as the core names them (``aifx_core.sequence.frames.JOB_FRAMES``): the panel's range,
#: turned into file numbers through where the plate is placed.
_JOB_FRAMES = re.escape('job field "frames"')
_RANGE = "the frame range (AI Fill panel: Scene Range, or Start and End)"
_PLACEMENT = "the clip's Start Frame and Frame Offset, or the Image's Start Frame and Offset"

#: (CLI wording, Blender wording), applied in order; the panel's labels are in settings.py.
_REWRITES: list[tuple[str, str]] = [
    # A plate on twos: the core tells a job to ask for '1001-1007x2', which the panel's whole-number range cannot
    # say (and the add-on fills every frame of its range).
    (
        rf"the plate (is on \w+|has a frame every \d+): set {_JOB_FRAMES} to '[^']*', "
        r"render them(?: or pass --skip-missing)?",
        r"the plate \1, and AI Fill fills every frame of its range: render the frames in between",
    ),
    (rf"check {_JOB_FRAMES}", f"check {_RANGE} and where the plate is placed ({_PLACEMENT})"),
    (
        rf"keep {_JOB_FRAMES} within (-?\d+)-(-?\d+),",
        rf"keep {_RANGE} on files \1-\2 (placed by {_PLACEMENT}),",
    ),
    (rf"give the frames to use \({_JOB_FRAMES}\)", "set the frame range (AI Fill panel: Start and End)"),
    (_JOB_FRAMES, _RANGE),
    (r"pass another -o/--output", "choose another Output Folder"),
    (r"-o/--output", "Output Folder"),
    (r"pass --overwrite to replace them", "tick Redo Finished Frames to replace them"),
    (r"pass --overwrite", "tick Redo Finished Frames"),
    (r",? or pass --skip-missing", ""),
    (r"pass --skip-missing", "render the missing frames"),
    (re.escape(events.GIVE_MASK), "pick a Mask or a Matte in the AI Fill panel"),
    # A Matte opened as one numbered file (Image > Open: Source 'Single Image') held over a longer plate.
    (
        r"if what it covers moves, give (.+?) as the mask",
        r"if what it covers moves, set the Matte's Source to Image Sequence (Image Editor sidebar > Image), "
        r"or in a script give mask=\1",
    ),
    (re.escape(events.PICK_MASK_CHANNEL), "use a one-channel matte or pick a Mask"),
    (re.escape(events.LIMIT_FRAMES), f"limit {_RANGE}"),
    (re.escape(events.CHECK_FRAMES), f"check {_RANGE}"),
    (r"(limit|check) --frames", r"\1 the frame range (AI Fill panel: Scene Range, or Start and End)"),
    (r"--frames", "the frame range"),
    (re.escape(events.CHECK_HOLE), "check the Mask (white = fill) and Dilate"),
    (re.escape(events.CHECK_EMPTY_MASK), "check the Mask (white = fill)"),
    (r"; pass --compression \w+ to keep it", ""),  # the panel has no compression: the output stays lossless
    # The panel has no threshold: a 0/1 label image is saved black/white instead.
    (r" or pass --threshold 0 \(any non-zero value is hole\)", ""),
    (r"below --threshold", "below the threshold"),
    (r"--colorspace", "Color Space"),
    (r"--backend", "Backend"),
    (r"--dilate", "Dilate"),
    (r"--feather", "Feather"),
    (r"--seed", "Seed"),
    (r"--output", "Output Folder"),
    (r"pass --model PATH to", "set Model to the path of"),
    (r"pass --model with", "set Model to"),
    (r"--model", "Model"),
    (r"use --window (\d+)", r"set Window to \1"),
    (r"an --overlap", "Overlap"),
    (r"--window", "Window"),
    (r"--overlap", "Overlap"),
    (r"use --option size=(\d+)", r"set Model Size to \1"),
    (r"--option size=(\d+)", r"Model Size \1"),
    (r"--option window=(\d+)", r"Window \1"),
    (r"drop --reference", "clear Reference"),
    (r"--reference", "Reference"),
    (r"--steps", "Steps"),
    (r"--option ", "option "),
]


def blender_terms(message: str) -> str:
    """``message`` with the core's command-line wording replaced by the AI Fill panel's field names."""
    for pattern, replacement in _REWRITES:
        message = re.sub(pattern, replacement, message)
    return message
