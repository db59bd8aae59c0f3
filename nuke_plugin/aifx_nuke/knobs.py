"""The AIFill node's knobs as plain data.

One table drives the node builder (:mod:`aifx_nuke.nodes`), the settings read back for a render and the knob
table in ``docs/nuke.md``, so a knob cannot be added in one place and forgotten in another. Knob *names* are
saved in artists' ``.nk`` scripts: never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Name stem of new nodes (AIFill1, AIFill2...).
NODE_NAME = "AIFill"
TAB_NAME = "aifx"

BACKENDS = ["propagate", "telea", "lama", "diffusers", "video-diffusion"]
#: ``auto`` lets the temporal engine pick its keyframe filler; otherwise ``options.spatial_backend``.
SPATIAL_BACKENDS = ["auto", "telea", "lama", "diffusers"]

#: Names of the nodes inside the group (looked up with ``group.node(name)``).
INPUT_SOURCE = "Source"
INPUT_MASK = "Mask"
CROP_SOURCE = "aifx_crop_source"
CROP_MASK = "aifx_crop_mask"
WRITE_SOURCE = "aifx_write_source"
WRITE_MASK = "aifx_write_mask"
READ_RESULT = "aifx_result"
#: The result Read's file until a render: no such file, so the node's output is an error that says why (a
#: comp rendered before the fill must fail, not pass the unfilled plate through).
NOT_RENDERED = "AIFill not rendered yet - press Render, or run render.py and reopen the script.exr"
#: After a render, outside the filled frames: a Switch picks this Read, whose file says so (Nuke's Read would
#: hold the first/last filled frame there, freezing the fill over the plate).
SWITCH_RANGE = "aifx_range"
READ_OUTSIDE = "aifx_outside"


def outside_range(first: int, last: int, whole_source: bool = False) -> str:
    """The outside Read's file: no such file, so the output there is an error that names the filled frames.

    ``whole_source``: the filled frames are all the Source input has; a frame range past them is refused
    (``jobs.parse_frame_range``), so the advice is about the Source, never a range the node would refuse."""
    if whole_source:
        return (
            f"AIFill filled frames {first}-{last} only, all of its Source - give the Source the frames the comp "
            "needs.exr"
        )
    return f"AIFill filled frames {first}-{last} only - set its frame range to the frames the comp needs.exr"


#: The layer and channel the *confidence* knob adds to the node's output: the EXR channel ``fill.confidence``
#: the core writes (``aifx_core.confidence.CHANNEL``; a test checks they agree), read by Nuke as layer ``fill``.
CONFIDENCE_LAYER = "fill"
CONFIDENCE_CHANNEL = "fill.confidence"


@dataclass(frozen=True)
class KnobSpec:
    """One user knob: ``kind`` is the ``nuke.<kind>`` class that makes it."""

    name: str
    kind: str
    label: str
    default: Any
    tooltip: str
    values: tuple[str, ...] = ()
    #: Part of the job: a change re-runs the fill (buttons and the status line are not).
    setting: bool = True


KNOBS: list[KnobSpec] = [
    KnobSpec(
        "mask_channel",
        "Channel_Knob",
        "mask channel",
        "rgba.alpha",
        "Channel of the Mask input (of Source when Mask is not connected) that marks what to remove.",
    ),
    KnobSpec("invert_mask", "Boolean_Knob", "invert mask", False, "Fill where the mask is 0 instead of 1."),
    KnobSpec(
        "backend",
        "Enumeration_Knob",
        "backend",
        "propagate",
        "propagate: temporal engine (flow-guided, consistent over frames); telea/lama/diffusers: "
        "each frame on its own.",
        tuple(BACKENDS),
    ),
    KnobSpec(
        "spatial_backend",
        "Enumeration_Knob",
        "keyframe fill",
        "auto",
        "What fills the keyframes the temporal engine propagates (propagate backend only); auto: the engine's "
        "default, telea.",
        tuple(SPATIAL_BACKENDS),
    ),
    KnobSpec(
        "model",
        "String_Knob",
        "model",
        "",
        "Required by lama (its TorchScript .pt file) and diffusers / video-diffusion (a hub id, local "
        "diffusers folder or checkpoint file).",
    ),
    KnobSpec(
        "prompt", "String_Knob", "prompt", "", "What to paint into the hole (diffusers and video-diffusion)."
    ),
    KnobSpec(
        "negative_prompt",
        "String_Knob",
        "negative prompt",
        "",
        "What to avoid (diffusers and video-diffusion).",
    ),
    KnobSpec(
        "reference",
        "File_Knob",
        "reference",
        "",
        "Image of the element to generate, given to the video model as a reference (video-diffusion only).",
    ),
    KnobSpec(
        "window", "Int_Knob", "window", 81, "Frames the video model sees at once (video-diffusion only)."
    ),
    KnobSpec(
        "overlap",
        "Int_Knob",
        "overlap",
        16,
        "Frames consecutive windows share and cross-fade over (video-diffusion only).",
    ),
    KnobSpec(
        "model_size",
        "Int_Knob",
        "model size",
        640,
        "The crop around the mask is resized to about this x this pixels for the video model "
        "(video-diffusion only): Wan 480p models ~640, 720p models ~960.",
    ),
    KnobSpec("seed", "Int_Knob", "seed", 0, "Random seed: the same seed gives the same fill."),
    KnobSpec("steps", "Int_Knob", "steps", 30, "Diffusion steps (diffusers and video-diffusion)."),
    KnobSpec("strength", "Double_Knob", "strength", 1.0, "How far diffusion may move from the plate, 0..1."),
    KnobSpec(
        "dilate", "Int_Knob", "dilate", 4, "Grow the hole by this many pixels (soft edges, motion blur)."
    ),
    KnobSpec(
        "feather",
        "Int_Knob",
        "feather",
        2,
        "Soften the fill's edge over this many pixels outside the hole: only backends that change pixels there use it (propagate and telea meet the plate at the hole's edge: grow dilate instead).",
    ),
    KnobSpec(
        "confidence",
        "Boolean_Knob",
        "confidence",
        False,
        "Also output the channel fill.confidence: 1 where the plate, or background other frames saw, is "
        "shown; towards 0 where the fill is invented. View it in the Viewer's channel menu (layer fill) "
        "or Shuffle it into rgba to key on it.",
    ),
    KnobSpec(
        "frame_range",
        "String_Knob",
        "frame range",
        "",
        "First-last frame to fill, e.g. 1001-1100. Empty: the Source input's range.",
    ),
    KnobSpec(
        "colorspace",
        "String_Knob",
        "colourspace override",
        "",
        "Colourspace of the node's pixels. Empty: the project's working space (Project Settings > Color).",
    ),
    KnobSpec(
        "cache_dir",
        "File_Knob",
        "cache folder",
        "",
        "Where inputs and results are cached. Empty: aifx_cache beside the script.",
    ),
    KnobSpec(
        "aifx_env",
        "File_Knob",
        "aifx environment",
        "",
        "Python executable of an environment that has aifx-core (not needed with a server). "
        "Empty: $AIFX_PYTHON.",
    ),
    KnobSpec(
        "server_url",
        "String_Knob",
        "aifx server",
        "",
        "aifx serve URL (http://gpu-box:8765) to run the fill on; the token comes from $AIFX_TOKEN. "
        "Empty: $AIFX_SERVER, else this machine runs it.",
    ),
    KnobSpec(
        "render",
        "PyScript_Knob",
        "Render",
        "import aifx_nuke.nodes; aifx_nuke.nodes.on_render_button()",
        "Write the inputs, run aifx and show the filled plate. Unchanged inputs and settings reuse the cache.",
        setting=False,
    ),
    KnobSpec(
        "cancel",
        "PyScript_Knob",
        "Cancel",
        "import aifx_nuke.nodes; aifx_nuke.nodes.on_cancel_button()",
        "Stop a render of this node; finished frames are kept and the next Render resumes.",
        setting=False,
    ),
    KnobSpec("status", "Text_Knob", "status", "not rendered", "What the node did last.", setting=False),
]

SETTING_NAMES = [k.name for k in KNOBS if k.setting]
#: Knob name → the label the artist sees (what messages name a knob by).
LABELS = {k.name: k.label for k in KNOBS}


def defaults() -> dict[str, Any]:
    """The settings of a freshly made node (what tests and scripts start from)."""
    return {k.name: k.default for k in KNOBS if k.setting}
