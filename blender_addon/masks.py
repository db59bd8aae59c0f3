"""Rasterise a Blender Mask datablock to the PNG matte sequence the core reads.

Blender's own compositor does the rasterising (Mask node, feather and animation included), so the matte is
exactly what the artist sees in the Movie Clip Editor. It runs in a throw-away scene that renders only the
compositor (no camera, no render layers), with a Raw view transform and no dither, so the PNG holds the
mask's linear 0..1 values. This works the same with a UI and in ``blender -b`` / the ``bpy`` module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import bpy

from .jobs import pattern_frame_path


def _build_compositor(scene: bpy.types.Scene, mask: bpy.types.Mask) -> None:
    if hasattr(scene, "compositing_node_group"):  # Blender 5.x: the compositor is a node group asset.
        tree = bpy.data.node_groups.new("aifx mask raster", "CompositorNodeTree")
        tree.interface.new_socket(name="Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        node = tree.nodes.new("CompositorNodeMask")
        node.mask = mask
        node.inputs["Size Source"].default_value = "Scene Size"
        node.inputs["Feather"].default_value = True
        output = tree.nodes.new("NodeGroupOutput")
        tree.links.new(node.outputs["Mask"], output.inputs[0])
        scene.compositing_node_group = tree
    else:  # Blender 4.2-4.5: the scene's embedded node tree with a Composite node.
        scene.use_nodes = True
        tree = scene.node_tree
        tree.nodes.clear()
        node = tree.nodes.new("CompositorNodeMask")
        node.mask = mask
        node.size_source = "SCENE"
        node.use_feather = True
        output = tree.nodes.new("CompositorNodeComposite")
        tree.links.new(node.outputs["Mask"], output.inputs[0])


def rasterize_mask(
    mask: bpy.types.Mask,
    size: Sequence[int],
    scene_frames: Sequence[int],
    file_numbers: Sequence[int],
    pattern: str,
) -> str:
    """Write ``pattern`` (``…####.png``) for each scene frame, numbered like the plate's files.

    ``scene_frames[i]`` is when the mask is evaluated and ``file_numbers[i]`` the plate file it belongs to,
    so a clip that starts at scene frame 1001 with files ``0000.png…`` gets mattes ``0000.png…``.
    """
    if len(scene_frames) != len(file_numbers) or not scene_frames:
        raise ValueError("need one file number per scene frame")
    width, height = int(size[0]), int(size[1])
    if width <= 0 or height <= 0:
        raise ValueError(f"{mask.name}: the plate has no size; check that its first frame can be read")
    os.makedirs(os.path.dirname(pattern) or ".", exist_ok=True)
    scene = bpy.data.scenes.new("aifx mask raster")
    tree_before = set(bpy.data.node_groups)
    try:
        render = scene.render
        render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
        render.pixel_aspect_x = render.pixel_aspect_y = 1.0
        render.use_compositing = True
        render.use_sequencer = False
        render.dither_intensity = 0.0
        render.use_file_extension = True
        render.image_settings.file_format = "PNG"
        render.image_settings.color_mode = "BW"
        render.image_settings.color_depth = "16"
        scene.view_settings.view_transform = "Raw"
        scene.view_settings.look = "None"
        scene.view_settings.exposure = 0.0
        scene.view_settings.gamma = 1.0
        _build_compositor(scene, mask)
        for frame, number in zip(scene_frames, file_numbers, strict=False):
            scene.frame_current = int(frame)
            render.filepath = pattern_frame_path(pattern, int(number))
            bpy.ops.render.render(write_still=True, scene=scene.name)
            if not os.path.exists(render.filepath):
                raise RuntimeError(f"{mask.name}: Blender rendered no matte for frame {frame}")
    finally:
        for tree in set(bpy.data.node_groups) - tree_before:
            bpy.data.node_groups.remove(tree)
        bpy.data.scenes.remove(scene)
    return pattern
