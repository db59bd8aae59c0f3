"""Render the hard ground-truth benchmark clips with Blender's Cycles (real path tracing, through ``bpy``).

Every scene is built here from primitives and procedural shaders (no downloaded assets), so the clips can be
regenerated anywhere the ``bpy`` wheel runs. The rendered frames are cached in ``benchmarks/clips/<name>/`` and
the benchmark and CI only ever read that cache; rendering is needed only to change a clip::

    nice -n 10 python benchmarks/render_clips.py                # renders the clips whose cache is missing
    nice -n 10 python benchmarks/render_clips.py --force whip   # re-renders one clip

Clips (what they stress, see benchmarks/clips/README.md for the layout):

* ``whip``: a whip pan with a dolly, 20-35 px/frame at 432x240, motion blur on, over textured buildings, trees
  and ground, while a car, a ball and a person-like capsule (none of them masked) cross the frame and its holes.
* ``whip960``: the first frames of the same shot at 960x540 (so 41-54 px/frame).
* ``crosser``: a person-like capsule to remove (rendered twice: ``plate/`` with it, ``truth/`` without; its
  matte, shadow included, in ``remove/``; ``plate/`` stores only what is inside the matte) while a ball bounces in front of it and a car drives behind it.
* ``dollyball``: issue #10's large-hole shot: a camera dolly down a street while a ball a third of the frame
  high, to be removed, crosses the frame in 24 frames (75 px/frame at 1920 wide, 17 here); ``dollyball960``: its
  first frames at 960x540. The ball is seen by the camera only, so the plate is rendered in its box alone.
* ``nonrigid``: a locked-off camera on non-rigid content: a rippling pond, bushes waving in the wind and drifting
  dust particles.

Frames are display-referred sRGB (Standard view, scene-linear clipped at 1), 8-bit PNG with maximum lossless
compression: what the harness scores (display-encoded 0..1, like the tennis clip), a few MB for all clips.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLIPS = Path(__file__).resolve().parent / "clips"
#: Object index of what the ``crosser`` clip removes (the object-index pass marks it).
REMOVE_INDEX = 1


@dataclass
class Spec:
    name: str
    width: int
    height: int
    frames: int
    samples: int
    about: str
    #: Length of the shot the motion is designed over; only the first ``frames`` are rendered (fewer frames
    #: keep the cache small and the render short, without changing the motion).
    motion_frames: int = 0

    def __post_init__(self) -> None:
        self.motion_frames = self.motion_frames or self.frames


SPECS = {
    "whip": Spec(
        "whip",
        432,
        240,
        24,
        12,
        "whip pan + dolly at 20-35 px/frame with motion blur; unmasked car, ball and person cross the frame",
        motion_frames=32,
    ),
    "whip960": Spec(
        "whip960",
        960,
        540,
        6,
        6,
        "the first frames of `whip` at 960x540 (41-54 px/frame), motion blur on",
        motion_frames=32,
    ),
    "crosser": Spec(
        "crosser",
        432,
        240,
        20,
        8,
        "slow dolly; a walking capsule person to remove (plate with, truth without, matte with shadow), "
        "an unmasked ball bouncing in front of it and a car driving behind it",
        motion_frames=32,
    ),
    "dollyball": Spec(
        "dollyball",
        432,
        240,
        24,
        6,
        "camera dolly (push-in, truck and pan); a ball a third of the frame high to remove (plate with, truth "
        "without, matte) crossing the frame in 24 frames: 17 px/frame here, 75 px/frame at 1920 wide",
    ),
    "dollyball960": Spec(
        "dollyball960",
        960,
        540,
        10,
        4,
        "the first frames of `dollyball` at 960x540 (the ball at 37.5 px/frame)",
        motion_frames=24,
    ),
    "nonrigid": Spec(
        "nonrigid",
        432,
        240,
        20,
        8,
        "locked-off camera: rippling pond with reflections, bushes waving in the wind, drifting dust",
        motion_frames=32,
    ),
}


# -- scene building (only called inside Blender's Python) --------------------------------------------------


def _bpy():
    import bpy

    return bpy


def reset_scene(spec: Spec) -> object:
    bpy = _bpy()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    cycles = scene.cycles
    cycles.device = "CPU"
    cycles.samples = spec.samples
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = True
    cycles.denoiser = "OPENIMAGEDENOISE"
    cycles.seed = 7
    cycles.max_bounces = 4
    cycles.diffuse_bounces = 2
    cycles.glossy_bounces = 2
    cycles.transmission_bounces = 2
    cycles.transparent_max_bounces = 4
    cycles.volume_bounces = 0
    cycles.caustics_reflective = False
    cycles.caustics_refractive = False
    cycles.blur_glossy = 1.0
    scene.render.resolution_x = spec.width
    scene.render.resolution_y = spec.height
    scene.render.resolution_percentage = 100
    scene.render.fps = 24
    scene.render.threads_mode = "FIXED"
    scene.render.threads = min(2, os.cpu_count() or 1)
    scene.render.use_motion_blur = True
    scene.render.motion_blur_shutter = 0.5
    scene.render.use_persistent_data = True
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    layer = scene.view_layers[0]
    layer.use_pass_object_index = True
    settings = scene.render.image_settings
    settings.media_type = "MULTI_LAYER_IMAGE"
    settings.file_format = "OPEN_EXR_MULTILAYER"
    settings.exr_codec = "ZIP"
    settings.color_depth = "32"
    scene.frame_start = 0
    scene.frame_end = spec.frames - 1
    world = bpy.data.worlds.new("sky")
    scene.world = world
    world.use_nodes = True
    nodes, links = world.node_tree.nodes, world.node_tree.links
    background = nodes["Background"]
    coords = nodes.new("ShaderNodeTexCoord")
    sep = nodes.new("ShaderNodeSeparateXYZ")
    ramp = nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (0.55, 0.6, 0.65, 1)
    ramp.color_ramp.elements[1].position = 0.5
    ramp.color_ramp.elements[1].color = (0.12, 0.25, 0.55, 1)
    links.new(coords.outputs["Generated"], sep.inputs[0])
    links.new(sep.outputs["Z"], ramp.inputs["Fac"])
    links.new(ramp.outputs["Color"], background.inputs["Color"])
    background.inputs["Strength"].default_value = 0.9
    return scene


def material(
    name: str,
    low: tuple[float, float, float],
    high: tuple[float, float, float],
    scale: float,
    kind: str = "noise",
    roughness: float = 0.7,
    upright: bool = False,
) -> object:
    """A procedural, trackable surface: multi-octave noise (or voronoi cells, bricks, checker) in object space.

    ``upright`` lays bricks on the object's XZ plane (a wall facing Y) instead of XY."""
    bpy = _bpy()
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = roughness
    coords = nodes.new("ShaderNodeTexCoord")
    noise = nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = scale
    noise.inputs["Detail"].default_value = 6.0
    noise.inputs["Roughness"].default_value = 0.65
    links.new(coords.outputs["Object"], noise.inputs["Vector"])
    ramp = nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].position = 0.3
    ramp.color_ramp.elements[0].color = (*low, 1)
    ramp.color_ramp.elements[1].position = 0.7
    ramp.color_ramp.elements[1].color = (*high, 1)
    links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
    colour = ramp.outputs["Color"]
    if kind == "voronoi":
        cells = nodes.new("ShaderNodeTexVoronoi")
        cells.inputs["Scale"].default_value = scale * 0.6
        links.new(coords.outputs["Object"], cells.inputs["Vector"])
        mix = nodes.new("ShaderNodeMixRGB")
        mix.blend_type = "MULTIPLY"
        mix.inputs["Fac"].default_value = 0.6
        links.new(colour, mix.inputs["Color1"])
        links.new(cells.outputs["Distance"], mix.inputs["Color2"])
        colour = mix.outputs["Color"]
    elif kind == "brick":
        brick = nodes.new("ShaderNodeTexBrick")
        brick.inputs["Scale"].default_value = scale
        brick.inputs["Mortar Size"].default_value = 0.03
        brick.inputs["Mortar"].default_value = (0.7, 0.68, 0.62, 1)
        if upright:
            split = nodes.new("ShaderNodeSeparateXYZ")
            join = nodes.new("ShaderNodeCombineXYZ")
            links.new(coords.outputs["Object"], split.inputs[0])
            links.new(split.outputs["X"], join.inputs["X"])
            links.new(split.outputs["Z"], join.inputs["Y"])
            links.new(split.outputs["Y"], join.inputs["Z"])
            links.new(join.outputs[0], brick.inputs["Vector"])
        else:
            links.new(coords.outputs["Object"], brick.inputs["Vector"])
        links.new(colour, brick.inputs["Color1"])
        brick.inputs["Color2"].default_value = (*[0.6 * c for c in high], 1)
        colour = brick.outputs["Color"]
    elif kind == "checker":
        checker = nodes.new("ShaderNodeTexChecker")
        checker.inputs["Scale"].default_value = scale
        checker.inputs["Color1"].default_value = (*low, 1)
        checker.inputs["Color2"].default_value = (*high, 1)
        links.new(coords.outputs["Generated"], checker.inputs["Vector"])
        colour = checker.outputs["Color"]
    links.new(colour, bsdf.inputs["Base Color"])
    return mat


def add(kind: str, mat: object, location, scale=(1, 1, 1), rotation=(0, 0, 0), name: str = "") -> object:
    bpy = _bpy()
    if kind == "cube":
        bpy.ops.mesh.primitive_cube_add(location=location, rotation=rotation)
    elif kind == "plane":
        bpy.ops.mesh.primitive_plane_add(location=location, rotation=rotation)
    elif kind == "sphere":
        bpy.ops.mesh.primitive_uv_sphere_add(segments=32, ring_count=16, location=location, rotation=rotation)
    elif kind == "ico":
        bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=4, location=location, rotation=rotation)
    elif kind == "cylinder":
        bpy.ops.mesh.primitive_cylinder_add(vertices=24, location=location, rotation=rotation)
    elif kind == "cone":
        bpy.ops.mesh.primitive_cone_add(vertices=16, location=location, rotation=rotation)
    elif kind == "grid":
        bpy.ops.mesh.primitive_grid_add(x_subdivisions=120, y_subdivisions=60, location=location)
    else:
        raise ValueError(kind)
    obj = bpy.context.active_object
    obj.scale = scale
    # Bake the scale into the mesh, so object-space textures keep their size in metres on every object.
    bpy.ops.object.transform_apply(location=False, rotation=False, scale=True)
    if name:
        obj.name = name
    if kind in ("sphere", "ico", "cylinder", "cone"):
        bpy.ops.object.shade_smooth()
    obj.data.materials.append(mat)
    return obj


def sun(strength: float = 3.0, angle=(0.9, 0.2, 0.6)) -> None:
    bpy = _bpy()
    bpy.ops.object.light_add(type="SUN", rotation=angle)
    light = bpy.context.active_object.data
    light.energy = strength
    light.angle = math.radians(2.0)


def camera(lens: float = 35.0) -> object:
    bpy = _bpy()
    bpy.ops.object.camera_add()
    cam = bpy.context.active_object
    cam.data.lens = lens
    cam.data.sensor_width = 36.0
    bpy.context.scene.camera = cam
    return cam


def key(obj: object, frame: int, location=None, rotation=None) -> None:
    if location is not None:
        obj.location = location
        obj.keyframe_insert("location", frame=frame)
    if rotation is not None:
        obj.rotation_euler = rotation
        obj.keyframe_insert("rotation_euler", frame=frame)


def town(rng: np.random.Generator, radius: tuple[float, float], count: int) -> None:
    """Ground, and buildings and trees on a ring around the origin: texture in every direction a pan looks."""
    ground_mat = material("ground", (0.16, 0.14, 0.12), (0.5, 0.46, 0.4), 3.0, "voronoi")
    add("plane", ground_mat, (0, 0, 0), (120, 120, 1))
    walls = [
        material("brick", (0.35, 0.12, 0.08), (0.7, 0.35, 0.22), 3.0, "brick"),
        material("plaster", (0.35, 0.38, 0.42), (0.8, 0.78, 0.7), 1.5, "voronoi"),
        material("stone", (0.25, 0.25, 0.22), (0.65, 0.6, 0.5), 2.5, "brick"),
    ]
    leaves = material("leaves", (0.04, 0.12, 0.03), (0.25, 0.45, 0.12), 4.0, "voronoi")
    bark = material("bark", (0.1, 0.07, 0.04), (0.3, 0.2, 0.12), 6.0)
    for i in range(count):
        angle = 2 * math.pi * (i + rng.uniform(-0.3, 0.3)) / count
        dist = rng.uniform(*radius)
        x, y = dist * math.cos(angle), dist * math.sin(angle)
        if i % 3 == 2:
            add("cylinder", bark, (x, y, 1.2), (0.25, 0.25, 1.2))
            add("ico", leaves, (x, y, 3.4), (1.6, 1.6, 1.9))
        else:
            w, d, h = rng.uniform(2.5, 5.0), rng.uniform(2.5, 5.0), rng.uniform(2.0, 6.0)
            add("cube", walls[i % len(walls)], (x, y, h), (w, d, h), (0, 0, angle))


def car(mat: object) -> object:
    """A car-like rig: body, cabin and four wheels parented to one empty (the object that moves)."""
    bpy = _bpy()
    bpy.ops.object.empty_add(location=(0, 0, 0))
    root = bpy.context.active_object
    tyre = material("tyre", (0.02, 0.02, 0.02), (0.08, 0.08, 0.08), 20.0, roughness=0.9)
    glass = material("glass", (0.05, 0.07, 0.09), (0.1, 0.12, 0.15), 2.0, roughness=0.05)
    parts = [
        add("cube", mat, (0, 0, 0.65), (2.1, 0.9, 0.35)),
        add("cube", glass, (-0.2, 0, 1.25), (1.1, 0.8, 0.3)),
    ]
    for x in (-1.3, 1.3):
        for y in (-0.9, 0.9):
            parts.append(add("cylinder", tyre, (x, y, 0.38), (0.38, 0.38, 0.15), (math.pi / 2, 0, 0)))
    for part in parts:
        part.parent = root
    return root


def person(mat: object, head_mat: object) -> tuple[object, list[object]]:
    """A person-like capsule: body cylinder with round ends and a head, parented to one empty."""
    bpy = _bpy()
    bpy.ops.object.empty_add(location=(0, 0, 0))
    root = bpy.context.active_object
    parts = [
        add("cylinder", mat, (0, 0, 0.95), (0.28, 0.28, 0.55)),
        add("sphere", mat, (0, 0, 0.42), (0.28, 0.28, 0.28)),
        add("sphere", mat, (0, 0, 1.5), (0.28, 0.28, 0.28)),
        add("sphere", head_mat, (0, 0, 1.95), (0.19, 0.19, 0.22)),
    ]
    for part in parts:
        part.parent = root
    return root, parts


def look_rotation(pan: float, tilt: float) -> tuple[float, float, float]:
    """Camera Euler angles looking horizontally along ``pan`` (radians from +Y, counter-clockwise), ``tilt`` down."""
    return (math.pi / 2 - tilt, 0.0, pan)


def ring_point(angle: float, dist: float, z: float = 0.0) -> tuple[float, float, float]:
    """A point at ``dist`` from the origin in the direction a camera with pan ``angle`` looks."""
    return (-dist * math.sin(angle), dist * math.cos(angle), z)


# -- the clips ---------------------------------------------------------------------------------------------


def build_whip(spec: Spec) -> dict:
    """Whip pan: the camera pans 2.0-3.3 degrees a frame (ease in/out) and dollies, things cross the frame."""
    scene = reset_scene(spec)
    rng = np.random.default_rng(10)
    sun(3.5)
    town(rng, (14.0, 26.0), 22)
    cam = camera(35.0)
    paint = material("paint", (0.5, 0.04, 0.03), (0.8, 0.1, 0.05), 2.0, roughness=0.25)
    rig = car(paint)
    ball_mat = material("ball", (0.9, 0.85, 0.1), (0.1, 0.2, 0.8), 4.0, "checker", 0.4)
    ball = add("sphere", ball_mat, (0, 0, 0), (0.55, 0.55, 0.55))
    walker, _ = person(
        material("coat", (0.05, 0.2, 0.35), (0.2, 0.4, 0.6), 6.0),
        material("skin", (0.6, 0.4, 0.3), (0.8, 0.55, 0.45), 5),
    )
    n = spec.motion_frames
    for f in range(-1, n + 1):
        u = f / (n - 1)
        # Pan speed eases 2.8 -> 4.6 -> 2.8 degrees a frame: 20-35 px/frame at 432 px wide with a 35 mm lens.
        pan = math.radians(2.8 * f + 1.8 * (n - 1) / math.pi * (1 - math.cos(math.pi * u)))
        pos = (0.12 * f, -0.08 * f, 1.7)
        key(cam, f, pos, look_rotation(pan, math.radians(7)))
        # The car drives round the camera a little slower than the pan (so it drifts across the frame) ...
        car_angle = pan + math.radians(22 - 44 * u)
        key(rig, f, ring_point(car_angle, 10.0), (0, 0, car_angle + math.pi))
        # ... the ball bounces the other way, nearer; the walker strolls across in the middle distance.
        ball_angle = pan + math.radians(-24 + 46 * u)
        bounce = 0.55 + 1.6 * abs(math.sin(math.pi * 3 * u))
        key(ball, f, ring_point(ball_angle, 6.5, bounce), (0, 8 * u, 0))
        walk_angle = pan + math.radians(16 - 30 * u)
        key(walker, f, ring_point(walk_angle, 8.0, 0.04 * abs(math.sin(8 * math.pi * u))), (0, 0, walk_angle))
    return {"camera": cam, "scene": scene}


def build_crosser(spec: Spec) -> dict:
    """Slow dolly; the walker is removed; a ball bounces in front of it and a car drives behind it."""
    scene = reset_scene(spec)
    rng = np.random.default_rng(11)
    sun(3.5, (0.8, 0.1, 2.2))
    town(rng, (12.0, 22.0), 20)
    cam = camera(35.0)
    paint = material("paint", (0.05, 0.25, 0.08), (0.1, 0.5, 0.15), 2.0, roughness=0.25)
    rig = car(paint)
    ball_mat = material("ball", (0.9, 0.2, 0.1), (0.95, 0.9, 0.8), 4.0, "checker", 0.4)
    ball = add("sphere", ball_mat, (0, 0, 0), (0.45, 0.45, 0.45))
    walker, parts = person(
        material("coat", (0.35, 0.2, 0.05), (0.7, 0.45, 0.15), 6.0),
        material("skin", (0.6, 0.4, 0.3), (0.8, 0.55, 0.45), 5),
    )
    for part in parts:
        part.pass_index = REMOVE_INDEX
    n = spec.motion_frames
    for f in range(-1, n + 1):
        u = f / (n - 1)
        pan = math.radians(0.35 * f)
        key(cam, f, (0.06 * f, 0.0, 1.6), look_rotation(pan, math.radians(6)))
        # The walker crosses right to left about 6 m away (roughly 6 px/frame relative to the background).
        key(walker, f, (2.8 - 4.6 * u, 6.5, 0.05 * abs(math.sin(6 * math.pi * u))), (0, 0, math.pi / 2))
        # A ball bounces left to right in front of the walker; a car drives right to left behind it.
        key(ball, f, (-1.8 + 5.0 * u, 4.2, 0.45 + 1.2 * abs(math.sin(2.5 * math.pi * u))), (0, 6 * u, 0))
        key(rig, f, (8.0 - 14.0 * u, 10.5, 0.0), (0, 0, math.pi))
    return {"camera": cam, "scene": scene, "remove": parts}


def build_nonrigid(spec: Spec) -> dict:
    """Locked-off: a rippling pond, bushes waving (animated displacement), drifting dust particles."""
    bpy = _bpy()
    scene = reset_scene(spec)
    rng = np.random.default_rng(12)
    sun(3.0, (0.9, 0.15, 0.9))
    add("plane", material("bank", (0.2, 0.17, 0.1), (0.45, 0.4, 0.3), 4.0, "voronoi"), (0, 0, 0), (60, 60, 1))
    add(
        "cube",
        material("wall", (0.35, 0.14, 0.08), (0.7, 0.38, 0.25), 3.0, "brick"),
        (0, 14, 2.5),
        (14, 0.4, 2.5),
    )
    # Water: a dense grid rippled by two wave modifiers, glossy enough to carry moving reflections.
    water_mat = material("water", (0.02, 0.05, 0.07), (0.05, 0.1, 0.12), 1.0, roughness=0.06)
    water = add("grid", water_mat, (0, 3.5, 0.05), (7.0, 3.2, 1.0))
    for i, (x, y) in enumerate(((-3.0, 2.0), (4.0, 5.0))):
        wave = water.modifiers.new(f"ripple{i}", "WAVE")
        wave.start_position_x, wave.start_position_y = x, y
        wave.height = 0.05
        wave.width = 0.7
        wave.speed = 0.08 + 0.03 * i
        wave.narrowness = 1.0
        wave.time_offset = -40.0
    # Bushes: icospheres displaced by a cloud texture whose coordinates ride on a swaying empty.
    leaves = material("leaves", (0.04, 0.14, 0.03), (0.3, 0.5, 0.12), 5.0, "voronoi")
    bpy.ops.object.empty_add(location=(0, 0, 0))
    wind = bpy.context.active_object
    texture = bpy.data.textures.new("gusts", "CLOUDS")
    texture.noise_scale = 0.6
    texture.noise_depth = 2
    for i in range(7):
        x = -6.0 + 2.0 * i + rng.uniform(-0.4, 0.4)
        y = 8.0 + rng.uniform(-1.0, 1.5)
        bush = add("ico", leaves, (x, y, 1.0), (1.1, 1.0, 1.3))
        disp = bush.modifiers.new("wind", "DISPLACE")
        disp.texture = texture
        disp.texture_coords = "OBJECT"
        disp.texture_coords_object = wind
        disp.strength = 0.55
        disp.mid_level = 0.5
    # Dust: small translucent motes blown across, with Brownian jitter.
    dust = material("dust", (0.75, 0.68, 0.55), (0.9, 0.85, 0.75), 3.0, roughness=0.9)
    mote = add("ico", dust, (0, 0, -5), (0.035, 0.035, 0.035))
    emitter = add("plane", dust, (-5.0, 5.0, 1.6), (1.4, 3.0, 1.0), (0, math.pi / 2, 0))
    emitter.hide_render = False
    system = emitter.modifiers.new("dust", "PARTICLE_SYSTEM").particle_system
    settings = system.settings
    settings.count = 500
    settings.frame_start = -60
    settings.frame_end = spec.motion_frames
    settings.lifetime = 200
    settings.normal_factor = 1.4
    settings.factor_random = 0.04
    settings.brownian_factor = 0.06
    settings.effector_weights.gravity = 0.0
    settings.render_type = "OBJECT"
    settings.instance_object = mote
    settings.particle_size = 1.0
    settings.size_random = 0.6
    settings.use_rotations = True
    settings.emit_from = "FACE"
    emitter.show_instancer_for_render = False
    system.seed = 3
    cam = camera(32.0)
    key(cam, 0, (0.0, -4.0, 2.2), look_rotation(0.0, math.radians(9)))
    for f in range(-61, spec.motion_frames + 1):
        key(wind, f, (0.05 * f, 0.6 * math.sin(0.35 * f), 0.2 * math.cos(0.23 * f)))
    return {"camera": cam, "scene": scene}


def street(rng: np.random.Generator) -> None:
    """The end of a street seen from its middle: fine-grained ground, a row of brick and stone facades of
    different heights and set-backs 15-21 m ahead, and posts and bushes 8-11 m ahead: detail everywhere a
    smear would show, and parallax between the layers as the camera moves."""
    add(
        "plane",
        material("cobbles", (0.12, 0.11, 0.1), (0.5, 0.46, 0.4), 9.0, "voronoi"),
        (0, 0, 0),
        (80, 80, 1),
    )
    walls = [
        material("brick", (0.35, 0.12, 0.08), (0.7, 0.35, 0.22), 1.2, "brick", upright=True),
        material("stone", (0.25, 0.25, 0.22), (0.7, 0.64, 0.52), 0.9, "brick", upright=True),
        material("render", (0.2, 0.22, 0.26), (0.85, 0.78, 0.66), 5.0, "voronoi"),
        material("darkbrick", (0.15, 0.1, 0.08), (0.45, 0.3, 0.2), 1.6, "brick", upright=True),
    ]
    x = -16.0
    i = 0
    while x < 16.0:
        w = float(rng.uniform(2.5, 4.5))
        h = float(rng.uniform(3.5, 7.0))
        y = float(rng.uniform(15.0, 21.0))
        add("cube", walls[i % len(walls)], (x + w, y, h), (w, 1.5, h))
        x += 2 * w
        i += 1
    leaves = material("leaves", (0.04, 0.12, 0.03), (0.3, 0.5, 0.12), 8.0, "voronoi")
    metal = material("post", (0.05, 0.05, 0.06), (0.35, 0.33, 0.3), 12.0, roughness=0.4)
    for x in (-7.5, -3.8, 2.6, 6.9):
        y = float(rng.uniform(8.0, 11.0))
        add("cylinder", metal, (x, y, 1.6), (0.09, 0.09, 1.6))
        add("sphere", metal, (x, y, 3.25), (0.2, 0.2, 0.2))
    for x in (-5.5, 0.4, 4.8):
        add("ico", leaves, (x, float(rng.uniform(9.0, 12.0)), 0.6), (1.0, 0.7, 0.75))


#: Screen speed of ``dollyball``'s ball as a share of the frame width per frame: 75 px/frame at 1920 wide.
BALL_SPEED = 75.0 / 1920.0


def build_dollyball(spec: Spec) -> dict:
    """Issue #10's large-hole shot: a camera dolly (push-in with a little truck and pan) over a textured street,
    and a ball a third of the frame high thrown across the frame in 24 frames (75 px/frame at 1920 wide), to be
    removed. The ball is seen by the camera only (no shadow, no reflection, no bounced light), so its matte is
    exactly where it covers the background, motion blur included, and the plate can be rendered in the ball's
    box only (``plate_border``)."""
    scene = reset_scene(spec)
    from mathutils import Vector  # Blender's, importable once bpy is

    rng = np.random.default_rng(13)
    sun(3.5, (0.85, 0.15, 2.0))
    street(rng)
    cam = camera(35.0)
    ball_mat = material("ball", (0.95, 0.8, 0.1), (0.15, 0.25, 0.85), 6.0, "checker", 0.35)
    ball = add("sphere", ball_mat, (0, 0, 0), (1, 1, 1))
    ball.pass_index = REMOVE_INDEX
    for ray in ("diffuse", "glossy", "shadow", "transmission", "volume_scatter"):
        setattr(ball, f"visible_{ray}", False)
    n = spec.motion_frames
    depth = 6.0
    frame_w = depth * 36.0 / cam.data.lens  # metres across the frame at the ball's depth
    frame_h = frame_w * spec.height / spec.width
    radius = frame_h / 6.0
    ball.scale = (radius, radius, radius)
    for f in range(-1, n + 1):
        key(cam, f, (0.05 * f, 0.2 * f, 2.0), look_rotation(math.radians(-0.25 * f), math.radians(2.5)))
    for f in range(-1, n + 1):
        u = f / (n - 1)
        scene.frame_set(f)
        # The ball's path is laid out on screen (left to right at BALL_SPEED, a throw's arc) at 6 m from the
        # moving camera, then keyed in world space.
        sx = 0.12 + BALL_SPEED * f
        sy = 0.47 + 0.1 * math.sin(math.pi * u)
        where = cam.matrix_world @ Vector(((sx - 0.5) * frame_w, (sy - 0.5) * frame_h, -depth))
        key(ball, f, tuple(where), (0.0, 0.35 * f, 0.1 * f))
    scene.frame_set(0)
    margin = 12.0  # px around the ball's blurred extent that the plate render covers

    def plate_border(frame: int) -> tuple[float, float, float, float]:
        """The plate render's region (min_x, max_x, min_y, max_y, 0..1 from the bottom left): the ball's
        screen box over the open shutter, grown by ``margin`` px."""
        from bpy_extras.object_utils import world_to_camera_view

        xs, ys = [], []
        for s in (frame - 0.3, frame, frame + 0.3):
            scene.frame_set(int(math.floor(s)), subframe=s - math.floor(s))
            centre = world_to_camera_view(scene, cam, ball.matrix_world.translation)
            r = radius / max(centre.z, 1e-3) * cam.data.lens / 36.0  # ball radius as a share of the width
            xs += [centre.x - r, centre.x + r]
            ys += [centre.y - r * spec.width / spec.height, centre.y + r * spec.width / spec.height]
        scene.frame_set(frame)
        mx, my = margin / spec.width, margin / spec.height
        return (
            max(0.0, min(xs) - mx),
            min(1.0, max(xs) + mx),
            max(0.0, min(ys) - my),
            min(1.0, max(ys) + my),
        )

    return {"camera": cam, "scene": scene, "remove": [ball], "plate_border": plate_border}


BUILDERS = {
    "whip": build_whip,
    "whip960": build_whip,
    "crosser": build_crosser,
    "dollyball": build_dollyball,
    "dollyball960": build_dollyball,
    "nonrigid": build_nonrigid,
}


# -- rendering and writing ---------------------------------------------------------------------------------


def srgb_8bit(linear: np.ndarray) -> np.ndarray:
    """Scene-linear RGB (Standard view: clipped at 1) to 8-bit sRGB, as Blender's Standard view transform does."""
    x = np.clip(linear, 0.0, 1.0)
    encoded = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.clip(np.round(encoded * 255.0), 0, 255).astype(np.uint8)


def read_layers(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Combined RGB (scene-linear, top row first) and the object-index pass of a multilayer EXR."""
    import OpenEXR

    with OpenEXR.File(str(path)) as exr:
        channels: dict[str, np.ndarray] = {}
        for part in exr.parts:
            channels.update(part.channels.items())
    combined = next(v for k, v in channels.items() if k.endswith("Combined")).pixels
    index = next(v for k, v in channels.items() if "Object Index" in k).pixels
    return np.asarray(combined[..., :3], np.float32), np.asarray(index, np.float32).reshape(
        combined.shape[:2]
    )


def render_frame(scene: object, frame: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    bpy = _bpy()
    scene.frame_set(frame)
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return read_layers(path)


def render_plate_in_box(
    scene: object, frame: int, tmp: Path, removable: list, box: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(plate, object index, truth) of one frame: the truth (the removable objects hidden) over the whole frame, then the plate in ``box`` only, put into
    it. For objects that only the camera sees (no shadow, reflection or bounced light) the two renders agree
    outside the objects' blurred extent, and the same seed gives them the same noise there, so rendering the
    plate in the box costs a fraction of a second full-frame render and changes nothing outside it."""
    for part in removable:
        part.hide_render = True
    truth, _ = render_frame(scene, frame, tmp / f"{frame:04d}_truth.exr")
    for part in removable:
        part.hide_render = False
    render = scene.render
    render.use_border, render.use_crop_to_border = True, False
    render.border_min_x, render.border_max_x, render.border_min_y, render.border_max_y = box
    try:
        boxed, index = render_frame(scene, frame, tmp / f"{frame:04d}.exr")
    finally:
        render.use_border = False
    height, width = truth.shape[:2]
    x0, x1 = math.floor(box[0] * width), math.ceil(box[1] * width)
    y0, y1 = height - math.ceil(box[3] * height), height - math.floor(box[2] * height)  # top row first
    inside = np.zeros((height, width), bool)
    # A few pixels in from the box's edges: the denoiser sees less around them than in the full render.
    inside[max(0, y0 + 4) : y1 - 4, max(0, x0 + 4) : x1 - 4] = True
    plate = np.where(inside[..., None], boxed, truth)
    return plate, np.where(inside, index, 0.0), truth


def camera_speed(scene: object, cam: object, frames: int) -> list[float]:
    """Image motion (px/frame) of the background point at the frame centre, 20 m away, between frames."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    speeds = []
    for f in range(frames - 1):
        scene.frame_set(f)
        centre = cam.matrix_world @ Vector((0.0, 0.0, -20.0))
        scene.frame_set(f + 1)
        moved = world_to_camera_view(scene, cam, centre)
        dx = (moved.x - 0.5) * scene.render.resolution_x
        dy = (moved.y - 0.5) * scene.render.resolution_y
        speeds.append(round(math.hypot(dx, dy), 1))
    return speeds


def object_speed(scene: object, cam: object, obj: object, frames: int) -> list[float]:
    """Image motion (px/frame) of ``obj``'s origin between consecutive frames (the removed object's speed)."""
    from bpy_extras.object_utils import world_to_camera_view

    speeds, last = [], None
    for f in range(frames):
        scene.frame_set(f)
        seen = world_to_camera_view(scene, cam, obj.matrix_world.translation)
        here = (seen.x * scene.render.resolution_x, seen.y * scene.render.resolution_y)
        if last is not None:
            speeds.append(round(math.dist(here, last), 1))
        last = here
    return speeds


def removal_matte(plate: np.ndarray, truth: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Where the removed object changes the picture: its index pass, plus every pixel that differs between the
    plate and the truth (its shadow, its motion-blurred fringe, light it bounces), grown by 2 px."""
    import cv2

    diff = np.abs(plate.astype(np.int16) - truth.astype(np.int16)).max(axis=-1).astype(np.uint8)
    changed = cv2.GaussianBlur(diff, (3, 3), 0) >= 3
    changed = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    matte = (changed > 0) | (np.abs(index - REMOVE_INDEX) < 0.5)
    grown = cv2.dilate(matte.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    return (grown > 0).astype(np.uint8) * 255


def plate_inside(plate: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """The plate inside the removal matte, black outside: outside it the plate is the truth (the matte holds
    every pixel that differs by 3/255 or more), so only the inside is stored, which keeps the cache small."""
    return np.where(matte[..., None] > 0, plate, 0).astype(np.uint8)


def write_png(path: Path, rgb_or_gray: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    image = rgb_or_gray if rgb_or_gray.ndim == 2 else cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2BGR)
    partial = path.with_name(
        path.stem + ".tmp.png"
    )  # written whole, then renamed: a kill leaves no half frame
    if not cv2.imwrite(str(partial), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"{path}: could not write")
    partial.replace(path)


def render_clip(spec: Spec, out: Path, exr_dir: Path | None = None, count: int | None = None) -> dict:
    """Render one clip into ``out`` (truth/, and for a removal clip plate/ and remove/) and return its metadata.

    ``count`` renders only the first frames of the shot (a quick look; the motion stays the full clip's)."""
    started = time.perf_counter()
    frames = spec.frames if count is None else min(count, spec.frames)
    built = BUILDERS[spec.name](spec)
    scene, cam = built["scene"], built["camera"]
    removable = built.get("remove", [])
    border = built.get("plate_border")
    tmp = Path(tempfile.mkdtemp(prefix=f"aifx_render_{spec.name}_"))
    # Frames already in the staging folder (a killed render) are kept: the scene is deterministic, so the
    # render resumes where it stopped. Scene time still steps through them in order (particles need it).
    staging = out.with_name(out.name + ".partial")
    try:
        for f in range(frames):
            wanted = ["truth"] + (["plate", "remove"] if removable else [])
            if all((staging / sub / f"{f:04d}.png").is_file() for sub in wanted) and exr_dir is None:
                scene.frame_set(f)
                continue
            if border is not None:
                linear, index, clean_linear = render_plate_in_box(scene, f, tmp, removable, border(f))
            else:
                linear, index = render_frame(scene, f, tmp / f"{f:04d}.exr")
            plate = srgb_8bit(linear)
            if removable:
                if border is None:
                    for part in removable:
                        part.hide_render = True
                    clean_linear, _ = render_frame(scene, f, tmp / f"{f:04d}_truth.exr")
                    for part in removable:
                        part.hide_render = False
                truth = srgb_8bit(clean_linear)
                matte = removal_matte(plate, truth, index)
                write_png(staging / "remove" / f"{f:04d}.png", matte)
                write_png(staging / "plate" / f"{f:04d}.png", plate_inside(plate, matte))
            else:
                clean_linear, truth = linear, plate
            write_png(staging / "truth" / f"{f:04d}.png", truth)
            if exr_dir is not None:
                exr_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(tmp / f"{f:04d}.exr", exr_dir / f"plate.{f:04d}.exr")
            print(
                f"{spec.name}: frame {f + 1}/{frames} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
        speeds = camera_speed(scene, cam, frames)
        moved = object_speed(scene, cam, removable[0], frames) if removable else []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bpy = _bpy()
    meta = {
        "name": spec.name,
        "about": spec.about,
        "width": spec.width,
        "height": spec.height,
        "frames": frames,
        "first_frame": 0,
        "fps": 24,
        "truth": "truth/####.png",
        "plate": "plate/####.png" if removable else "truth/####.png",
        "remove": "remove/####.png" if removable else None,
        "encoding": "8-bit sRGB PNG (Standard view transform, scene-linear clipped at 1)",
        "camera_px_per_frame": speeds,
        **({"remove_px_per_frame": moved} if removable else {}),
        "renderer": f"Blender {bpy.app.version_string} Cycles CPU, {spec.samples} samples, OIDN denoise, "
        f"motion blur shutter 0.5",
        "render_seconds": round(time.perf_counter() - started, 1),
    }
    (staging / "clip.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", choices=[[], *SPECS], help="clips to render (default: all)")
    parser.add_argument("--force", action="store_true", help="re-render even if the cache exists")
    parser.add_argument("--frames", type=int, help="render only this many frames (a quick look)")
    parser.add_argument("--out", type=Path, default=CLIPS, help="cache folder (default benchmarks/clips)")
    parser.add_argument("--exr", type=Path, help="also keep the scene-linear multilayer EXR plates here")
    args = parser.parse_args(argv)
    for name in args.names or list(SPECS):
        spec = SPECS[name]
        out = args.out / name
        if (out / "clip.json").exists() and not args.force:
            print(f"{name}: cached in {out} (use --force to re-render)")
            continue
        meta = render_clip(spec, out, args.exr / name if args.exr else None, args.frames)
        print(f"{name}: {meta['frames']} frames in {meta['render_seconds']} s -> {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
