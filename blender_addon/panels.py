"""Sidebar panels ("AI Fill" tab) in the Movie Clip Editor and the Image Editor."""

from __future__ import annotations

import bpy

from . import targets
from .plates import library_path
from .settings import FillOptions


def _draw_settings(layout: bpy.types.UILayout, settings) -> None:
    col = layout.column(align=False)
    col.use_property_split = True
    col.use_property_decorate = False
    col.prop(settings, "backend")
    if settings.backend == "propagate":
        col.prop(settings, "spatial_backend")
    if settings.backend == "video-diffusion":
        col.prop(settings, "model")
        col.prop(settings, "prompt")
        col.prop(settings, "negative_prompt")
        col.prop(settings, "reference")
        sub = col.column(align=True)
        sub.prop(settings, "window")
        sub.prop(settings, "overlap")
        sub = col.column(align=True)
        sub.prop(settings, "steps")
        sub.prop(settings, "model_size")
        col.prop(settings, "seed")
    elif settings.backend == "diffusers" or settings.spatial_backend == "diffusers":
        col.prop(settings, "model")
        col.prop(settings, "prompt")
        col.prop(settings, "negative_prompt")
        col.prop(settings, "seed")
    elif settings.backend == "lama" or settings.spatial_backend == "lama":
        col.prop(settings, "model")
    sub = col.column(align=True)
    sub.prop(settings, "dilate")
    sub.prop(settings, "feather")
    col.prop(settings, "confidence")
    col.prop(settings, "use_scene_range")
    if not settings.use_scene_range:
        sub = col.column(align=True)
        sub.prop(settings, "frame_start")
        sub.prop(settings, "frame_end")
    col.prop(settings, "output_dir")
    col.prop(settings, "overwrite")


def fill_arguments(space, settings) -> dict[str, str]:
    """What the panel's AI Fill button names: the editor's clip or image (for an AI Fill result, the plate
    it was filled from: :mod:`.targets`), and the Mask (the panel's, else the editor's) or else the Matte,
    each with the library it is linked from (a linked clip and a local one may share a name)."""
    mask = targets.editor_mask(settings, space)
    masks = {"mask_datablock": mask.name if mask else "", "mask_library": library_path(mask)}
    if space.type == "CLIP_EDITOR":
        clip = targets.fill_source(space.clip)
        return {"clip": clip.name, "clip_library": library_path(clip), **masks}
    image = targets.fill_source(space.image)
    matte = settings.mask_image if mask is None else None
    return {
        "image": image.name,
        "image_library": library_path(image),
        **masks,
        "mask_image": matte.name if matte is not None else "",
        "mask_image_library": library_path(matte),
    }


def _fill_button(layout: bpy.types.UILayout, settings, **names: str) -> None:
    row = layout.row()
    row.scale_y = 1.5
    op = row.operator("aifx.fill", icon="BRUSH_DATA")
    for name in FillOptions.shared:
        setattr(op, name, getattr(settings, name))
    for key, value in names.items():
        setattr(op, key, value)


class AIFX_PT_clip_fill(bpy.types.Panel):
    bl_space_type = "CLIP_EDITOR"
    bl_region_type = "UI"
    bl_category = "AI Fill"
    bl_label = "AI Fill"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return getattr(context.space_data, "clip", None) is not None

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        space = context.space_data
        settings = context.scene.aifx
        names = fill_arguments(space, settings)
        box = layout.box()
        box.label(text=f"Plate: {names['clip']}", icon="SEQUENCE")
        if names["clip"] != space.clip.name:
            box.label(text="(the editor shows its AI Fill)", icon="INFO")
        box.prop(settings, "mask", text="Mask")
        if not names["mask_datablock"]:
            box.label(text="Draw a mask in Mask mode, or pick one", icon="ERROR")
        _draw_settings(layout, settings)
        _fill_button(layout, settings, **names)


class AIFX_PT_image_fill(bpy.types.Panel):
    bl_space_type = "IMAGE_EDITOR"
    bl_region_type = "UI"
    bl_category = "AI Fill"
    bl_label = "AI Fill"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return getattr(context.space_data, "image", None) is not None

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        space = context.space_data
        settings = context.scene.aifx
        names = fill_arguments(space, settings)
        box = layout.box()
        box.label(text=f"Plate: {names['image']}", icon="IMAGE_DATA")
        if names["image"] != space.image.name:
            box.label(text="(the editor shows its AI Fill)", icon="INFO")
        box.prop(settings, "mask", text="Mask")
        box.prop(settings, "mask_image", text="or Matte")
        if not names["mask_datablock"] and not names["mask_image"]:
            box.label(text="Pick a Mask or a matte image", icon="ERROR")
        _draw_settings(layout, settings)
        _fill_button(layout, settings, **names)


def draw_menu_entry(self, context: bpy.types.Context) -> None:
    """AI Fill in the editors' Clip / Image menu, which is also what lets F3 find it."""
    self.layout.separator()
    self.layout.operator("aifx.fill", icon="BRUSH_DATA")


#: Menus that get an AI Fill entry: the Movie Clip Editor's Clip menu and the Image Editor's Image menu.
MENUS = ("CLIP_MT_clip", "IMAGE_MT_image")


def register_menus() -> None:
    for name in MENUS:
        getattr(bpy.types, name).append(draw_menu_entry)


def unregister_menus() -> None:
    for name in MENUS:
        getattr(bpy.types, name).remove(draw_menu_entry)


classes = (AIFX_PT_clip_fill, AIFX_PT_image_fill)
