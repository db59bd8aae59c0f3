# mypy: disable-error-code="valid-type"
"""Fill settings, declared once and shared by the scene's panel settings and the ``aifx.fill`` operator."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, PointerProperty, StringProperty

#: Options of the operators' own properties (what to fill, with what, where to; the Python to check): Blender
#: gives a call that is not nested in a script (a button, the Clip menu, F3) the last-used value of every
#: property the call leaves unset, so after the panel's button on sh010 Clip > AI Fill on sh020 filled sh010
#: again. (The panel settings on the operator need no flag: ``apply_scene_settings`` replaces each one the call
#: did not set.)
ONE_SHOT = {"SKIP_SAVE"}

#: Options of a path property whose value may start with "//" (relative to the .blend): Blender 5 warns on
#: such a value unless the property declares it supports one; Blender 4.2-4.x have no such option.
BLEND_RELATIVE_PATH = {"ANIMATABLE"} | (
    {"PATH_SUPPORTS_BLEND_RELATIVE"}
    if "is_path_supports_blend_relative" in bpy.types.Property.bl_rna.properties
    else set()
)

BACKENDS = [
    (
        "propagate",
        "Propagate",
        "Temporal: copy what other frames show through optical flow, fill the rest spatially",
    ),
    ("telea", "Telea", "Fast classical inpainting, frame by frame (previews, thin wires)"),
    ("lama", "LaMa", "Learned spatial inpainting, frame by frame"),
    ("diffusers", "Diffusion", "Prompted fill with a diffusion inpainting model"),
    (
        "video-diffusion",
        "Video Diffusion",
        "A masked video model generates an element that moves by itself (explosion, creature, collapse)",
    ),
]
SPATIAL_BACKENDS = [
    ("telea", "Telea", "Classical inpainting for what no frame shows"),
    ("lama", "LaMa", "Learned inpainting for what no frame shows"),
    ("diffusers", "Diffusion", "Prompted diffusion for what no frame shows"),
]


class FillOptions:
    """Properties the artist sets in the panel; the panel copies them onto the operator it calls."""

    backend: EnumProperty(name="Backend", items=BACKENDS, default="propagate")
    spatial_backend: EnumProperty(
        name="Spatial",
        items=SPATIAL_BACKENDS,
        default="telea",
        description="What fills the part of the hole no other frame shows (Propagate only)",
    )
    model: StringProperty(
        name="Model",
        description="Required by LaMa (its TorchScript .pt file) and Diffusion / Video Diffusion (a hub id, "
        "local diffusers folder or checkpoint file)",
    )
    prompt: StringProperty(name="Prompt", description="What to paint into the hole (diffusion)")
    negative_prompt: StringProperty(name="Negative Prompt", description="What to keep out of the fill")
    reference: StringProperty(
        name="Reference",
        subtype="FILE_PATH",
        options=BLEND_RELATIVE_PATH,
        description="Image of the element to generate, given to the video model as a reference (optional)",
    )
    window: IntProperty(
        name="Window", default=81, min=1, soft_max=161, description="Frames the video model sees at once"
    )
    overlap: IntProperty(
        name="Overlap",
        default=16,
        min=0,
        soft_max=40,
        description="Frames consecutive windows share: the next continues the last, and they cross-fade",
    )
    steps: IntProperty(
        name="Steps",
        default=30,
        min=1,
        soft_max=100,
        description="Denoising steps per window of the video model",
    )
    model_size: IntProperty(
        name="Model Size",
        default=640,
        min=16,
        soft_max=1280,
        subtype="PIXEL",
        description="The crop around the mask is resized to about this x this pixels for the video model: "
        "Wan 480p models ~640, 720p models ~960",
    )
    seed: IntProperty(name="Seed", default=0, min=0)
    dilate: IntProperty(
        name="Dilate", default=4, min=0, soft_max=64, subtype="PIXEL", description="Grow the hole"
    )
    feather: IntProperty(
        name="Feather",
        default=2,
        min=0,
        soft_max=64,
        subtype="PIXEL",
        description=(
            "Soften the fill's edge over this many pixels outside the hole: only backends that change pixels "
            "there use it (propagate and telea meet the plate at the hole's edge: grow Dilate instead)"
        ),
    )
    confidence: BoolProperty(
        name="Confidence",
        default=False,
        description="Also write where the fill is a guess (EXR pass fill: 1 = plate or background other frames "
        "saw, towards 0 = invented) and build the compositor group '<plate> AI Fill Confidence' that shows it",
    )
    use_scene_range: BoolProperty(
        name="Scene Range", default=True, description="Fill the scene's frame range (within the clip)"
    )
    frame_start: IntProperty(name="Start", default=1, description="First scene frame to fill")
    frame_end: IntProperty(name="End", default=250, description="Last scene frame to fill")
    overwrite: BoolProperty(
        name="Redo Finished Frames",
        default=False,
        description="Fill every frame again; off resumes after the frames already filled with these settings "
        "(turn on after editing the mask)",
    )
    output_dir: StringProperty(
        name="Output Folder",
        subtype="DIR_PATH",
        options=BLEND_RELATIVE_PATH,
        description="Where filled EXR frames go; empty: an aifx_fill folder next to the plate",
    )

    #: Names copied from panel settings onto the operator.
    shared = (
        "backend",
        "spatial_backend",
        "model",
        "prompt",
        "negative_prompt",
        "reference",
        "window",
        "overlap",
        "steps",
        "model_size",
        "seed",
        "dilate",
        "feather",
        "confidence",
        "use_scene_range",
        "frame_start",
        "frame_end",
        "output_dir",
        "overwrite",
    )


class AIFX_FillSettings(FillOptions, bpy.types.PropertyGroup):
    """Per-scene panel settings (saved in the .blend)."""

    mask: PointerProperty(
        name="Mask", type=bpy.types.Mask, description="Mask to remove (default: the editor's)"
    )
    mask_image: PointerProperty(
        name="Mask Image", type=bpy.types.Image, description="Matte image or sequence (white = fill)"
    )


classes = (AIFX_FillSettings,)


def register_properties() -> None:
    bpy.types.Scene.aifx = PointerProperty(type=AIFX_FillSettings)


def unregister_properties() -> None:
    del bpy.types.Scene.aifx
