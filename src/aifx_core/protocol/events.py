"""What a running job says: the event schema, its one-line-JSON encoding, and how to read it.

``aifx run JOB --json-progress`` prints one event per line on stdout; the Blender and Nuke adapters, the
server and the CLI's own progress bar read the same events through this module, so an event is written in
one place (:func:`encode`) and read in one place (:func:`decode`, :func:`fraction`, :func:`percent`,
:func:`describe`). The kinds:

* ``{"event": "progress", "stage", "index", "total", "frame", "message"}``: ``index`` of ``total`` in
  ``stage``, one of :data:`STAGES`; ``"write"`` counts finished output frames (the job's own progress), the
  others restart their count and report work before the frames are written;
* ``{"event": "done", "output", "written", "skipped", "contact_sheet", ...}``: the job finished;
* ``{"event": "error", "message", "exit_code"}``: the job failed (exit codes in :mod:`.errors`);
* ``{"event": "cancelled", "message"}``: the job stopped on request; finished frames are kept.

Standard library only: this file is copied into the adapters.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional

Event = Dict[str, Any]

PROGRESS, DONE, ERROR, CANCELLED = "progress", "done", "error", "cancelled"
#: Kinds that end a job: exactly one of them is the last event of a run.
FINAL_KINDS = (DONE, ERROR, CANCELLED)
#: The progress stage that counts finished output frames (other stages report work inside a frame).
OVERALL_STAGE = "write"
#: The stages a run reports: ``"seen plate"`` (shot frames read for the clean plate of
#: a locked-off or slowly moving shot, before the fill), ``"anchors"`` (keyframe blocks decided by the temporal
#: engine), ``"propagate"`` (frames the temporal engine has filled), ``"generate"`` (windows of a video model),
#: ``"write"`` (:data:`OVERALL_STAGE`), and ``"retry"`` (a farm chunk retried: ``index`` of ``total`` tries).
#: A plugin backend may report stages of its own.
STAGES = ("seen plate", "anchors", "propagate", "generate", OVERALL_STAGE, "retry")


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a job: ``index`` of ``total`` in ``stage`` (:data:`STAGES`: ``"propagate"``, ``"write"``...)."""

    stage: str
    index: int
    total: int
    frame: Optional[int] = None
    message: str = ""

    def to_dict(self) -> Event:
        return {"event": PROGRESS, **asdict(self)}


def done_event(
    output: str, written: list, skipped: list, contact_sheet: Optional[str] = None, **extra: Any
) -> Event:
    """The last event of a finished job (``extra`` carries optional outputs, e.g. a confidence sequence)."""
    return {
        "event": DONE,
        "output": output,
        "written": list(written),
        "skipped": list(skipped),
        "contact_sheet": contact_sheet,
        **extra,
    }


def error_event(message: str, exit_code: int) -> Event:
    return {"event": ERROR, "message": message, "exit_code": exit_code}


def cancelled_event(message: str) -> Event:
    return {"event": CANCELLED, "message": message}


def encode(event: Mapping[str, Any]) -> str:
    """One event as one line of JSON (without the newline)."""
    return json.dumps(dict(event))


def decode(line: str) -> Optional[Event]:
    """The event on ``line``, or None for anything else a worker prints (warnings, a library's chatter)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return None
    return event


def is_final(event: Mapping[str, Any]) -> bool:
    return event.get("event") in FINAL_KINDS


def is_overall(event: Mapping[str, Any]) -> bool:
    """A progress event that counts finished output frames (the one a progress bar follows)."""
    return event.get("event") == PROGRESS and event.get("stage") == OVERALL_STAGE


def fraction(event: Optional[Mapping[str, Any]]) -> Optional[float]:
    """How much of the job is done, 0..1, or None when this event does not say.

    Stages such as ``flow`` restart their count, so only ``write`` (frames finished) and ``done`` count: a bar
    that follows this never goes backwards.
    """
    if not event:
        return None
    if event.get("event") == DONE:
        return 1.0
    total = event.get("total") or 0
    if not is_overall(event) or not total:
        return None
    return min(1.0, max(0.0, float(event.get("index", 0)) / float(total)))


def percent(event: Optional[Mapping[str, Any]], start: int = 0) -> Optional[int]:
    """:func:`fraction` as a whole percent of a bar whose first ``start`` percent went to earlier work."""
    done = fraction(event)
    if done is None:
        return None
    return start + int(round(done * (100 - start)))


def summary(event: Mapping[str, Any]) -> str:
    """``6 frames written, 2 already done`` from a ``done`` event."""
    written, skipped = len(event.get("written") or []), len(event.get("skipped") or [])
    return f"{written} frame{'s' * (written != 1)} written, {skipped} already done"


#: How the core's notices about the mask end: the advice in command-line words, which the adapters reword
#: into their own fields' names (Blender's panel, Nuke's knobs) by these very texts.
CHECK_HOLE = "check the mask, --invert-mask, --threshold and --dilate"
CHECK_EMPTY_MASK = "check the mask, --mask-channel, --invert-mask and --threshold"
#: How the core asks for a mask it can use. Its refusals reach a command-line user and a job's or the Python
#: API's alike, so each setting is named both ways, the flag and the job's field, as the core's other refusals
#: of a setting do (``-m "" or "mask": ""``); the adapters reword these very texts as well.
GIVE_MASK = (
    'give a mask (--mask MASK or "mask": MASK) or the channel that holds the matte '
    '(--mask-channel NAME or "mask_channel": NAME)'
)
PICK_MASK_CHANNEL = 'give one of them as the mask channel (--mask-channel NAME or "mask_channel": NAME)'
#: How the core asks for other frames of the shot (a mask short of the plate; a frame a sequence lacks), named
#: both ways as well, ``aifx fill``'s flag and the job's field; the adapters reword these very texts.
LIMIT_FRAMES = 'limit the frames (--frames RANGE or "frames": RANGE)'
CHECK_FRAMES = 'check the frames asked for (--frames RANGE or "frames": RANGE)'
#: How the core's note about a hole over semi-transparent alpha ends (the fill makes rgb, the alpha is kept):
#: the adapters name their own nodes (Nuke's Unpremult and Premult around AIFill) by this very text.
UNPREMULTIPLY = "unpremultiply before the fill and premultiply after"


def notices(event: Mapping[str, Any]) -> list[str]:
    """What a ``done`` event asks the artist to check, one line each (``warning: the hole covers 96 % of frame
    1004...``, ``note: PNG output drops...``): the output is written, but something was not kept or is a
    guess. ``aifx`` prints them on stderr; the adapters show them where their artist looks."""
    return [str(notice) for notice in event.get("notices") or []]


def describe(event: Mapping[str, Any]) -> str:
    """One line for a log or a status bar: ``write 2/4 (frame 1002): note``, ``done: 4 frames written...``."""
    kind = event.get("event")
    if kind == PROGRESS:
        text = str(event.get("stage", "aifx"))
        if event.get("total"):
            text += f" {event.get('index', 0)}/{event['total']}"
        if event.get("frame") is not None:
            text += f" (frame {event['frame']})"
        if event.get("message"):
            text += f": {event['message']}"
        return text
    if kind == DONE:
        return f"done: {summary(event)}"
    return f"{kind}: {event.get('message', '')}"
