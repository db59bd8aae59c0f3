"""Rasterise a Blender Mask datablock to the PNG matte sequence the core reads.

Blender's own compositor does the rasterising (Mask node, feather and animation included), so the matte is
exactly what the artist sees in the Movie Clip Editor. It runs in a throw-away scene that renders only the
compositor (no camera, no render layers), with a Raw view transform and no dither, so the PNG holds the
mask's linear 0..1 values. This works the same with a UI and in ``blender -b`` / the ``bpy`` module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

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


#: What the artist is told when an undo (Ctrl-Z) or a file load swapped the scenes while the mask rasterised.
SCENE_CHANGED = "the scene changed under the fill (undo?); press AI Fill again"
#: ... and when the Mask itself was deleted meanwhile.
MASK_DELETED = "the Mask was deleted while AI Fill rasterised it; press AI Fill again"


class SceneChanged(RuntimeError):
    """The artist's scene or the throw-away raster scene is gone: an undo or a file load replaced them."""


class MaskRaster:
    """Rasterises a Mask one frame per :meth:`step`, so the modal operator can show progress and stay
    responsive (a 1080p frame takes about a third of a second); ``blender -b`` runs it to the end.

    The Mask node evaluates the mask's animation (shape keys, point keyframes) at the frame of the scene
    the artist works in, not at the throw-away scene's frame, so each step moves ``source_scene`` to the
    frame with ``frame_set`` and puts it back where it found it: the artist may have scrubbed or played since
    the last step, and putting back the frame AI Fill was pressed on snapped the playhead back at every tick.

    The scenes and node trees are held by name and looked up at each step: the artist may press Ctrl-Z
    between two steps, and an undo replaces every datablock, so a held reference raised ``ReferenceError``
    (or the raster scene was gone) and the throw-away scene and node tree were left in the .blend.
    """

    def __init__(
        self,
        mask: bpy.types.Mask,
        size: Sequence[int],
        scene_frames: Sequence[int],
        file_numbers: Sequence[int],
        pattern: str,
        source_scene: bpy.types.Scene,
        aspect: float = 1.0,
        canvas: Sequence[int] | None = None,
    ) -> None:
        if len(scene_frames) != len(file_numbers) or not scene_frames:
            raise ValueError("need one file number per scene frame")
        width, height = int(size[0]), int(size[1])
        if width <= 0 or height <= 0:
            raise ValueError(f"{mask.name}: the plate has no size; check that its first frame can be read")
        _check_aspect(aspect, width, height)
        self.mask_name = mask.name
        self.frames = [(int(f), int(n)) for f, n in zip(scene_frames, file_numbers, strict=True)]
        self.pattern = pattern
        #: (x, y, width, height): the matte, rendered at ``size`` (an EXR plate's data window, what Blender
        #: shows), placed at x, y on a width x height canvas (its display window, the frame the core fills).
        self.canvas = tuple(int(v) for v in canvas) if canvas is not None else None
        self.index = 0
        self.source_scene_name = source_scene.name
        #: Where the artist's playhead was when the step under way began; None between steps, so closing the
        #: raster (Esc, a deleted Mask, an undo) leaves the playhead wherever the artist has scrubbed since.
        self._home: tuple[int, float] | None = None
        trees_before = set(bpy.data.node_groups.keys())
        scene = bpy.data.scenes.new("aifx mask raster")
        #: None once closed.
        self.scene_name: str | None = scene.name
        self._tree_names: set = set()
        try:
            _setup_scene(scene, mask, width, height, aspect)
        except Exception:
            self._tree_names = set(bpy.data.node_groups.keys()) - trees_before
            self.close()
            raise
        self._tree_names = set(bpy.data.node_groups.keys()) - trees_before

    @property
    def total(self) -> int:
        return len(self.frames)

    @property
    def done(self) -> bool:
        return self.index >= len(self.frames)

    @property
    def scene(self) -> bpy.types.Scene | None:
        """The throw-away scene, looked up now (None once closed)."""
        return bpy.data.scenes.get(self.scene_name) if self.scene_name is not None else None

    def _scenes(self) -> tuple[bpy.types.Scene, bpy.types.Scene]:
        """(the artist's scene, the raster scene) as they are now, or :class:`SceneChanged`."""
        source = bpy.data.scenes.get(self.source_scene_name)
        scene = self.scene
        if source is None or scene is None:
            raise SceneChanged(f"{self.mask_name}: {SCENE_CHANGED}")
        return source, scene

    def step(self) -> bool:
        """Render the next frame's matte; False once every frame is written."""
        if self.done or self.scene_name is None:
            return False
        frame, number = self.frames[self.index]
        source, scene = self._scenes()
        if not _renders_a_mask(scene):
            raise SceneChanged(f"{self.mask_name}: {MASK_DELETED}")
        self._home = (source.frame_current, source.frame_subframe)  # where the artist has the playhead now
        try:
            source.frame_set(frame)  # drives the Mask's animation
            scene.frame_current = frame
            render = scene.render
            render.filepath = pattern_frame_path(self.pattern, number)
            # Made here, not when the raster is set up: a raster that cannot start leaves no folder behind.
            os.makedirs(os.path.dirname(render.filepath) or ".", exist_ok=True)
            bpy.ops.render.render(write_still=True, scene=scene.name)
            if not os.path.exists(render.filepath):
                raise RuntimeError(f"{self.mask_name}: Blender rendered no matte for frame {frame}")
            if self.canvas is not None:
                _place_on_canvas(render.filepath, self.canvas, scene)
        finally:
            self.restore_frame()
            self._home = None
        self.index += 1
        return not self.done

    def restore_frame(self) -> None:
        """Put the artist's scene back on the frame it showed when the step under way began (nothing between
        steps: the artist may have scrubbed since the last one)."""
        if self._home is None:
            return
        source = bpy.data.scenes.get(self.source_scene_name)
        frame, subframe = self._home
        if source is not None and (source.frame_current, source.frame_subframe) != (frame, subframe):
            source.frame_set(frame, subframe=subframe)

    def close(self) -> None:
        """Delete the throw-away scene and node tree (safe to call twice, and after an undo swapped them). The
        playhead is left alone: each step put it back already, and putting it back here again snapped it to
        where the last step found it, after the artist had scrubbed on and pressed Esc."""
        if self.scene_name is None:
            return
        for name in self._tree_names:
            tree = bpy.data.node_groups.get(name)
            if tree is not None:
                bpy.data.node_groups.remove(tree)
        scene = self.scene
        if scene is not None:
            bpy.data.scenes.remove(scene)
        self.scene_name = None


def _renders_a_mask(scene: bpy.types.Scene) -> bool:
    """Whether the raster scene's Mask node still has its Mask: deleting a Mask clears the nodes that use it,
    and the compositor then renders a blank matte (the fill removed nothing and said done). The node, not the
    Mask's name, is asked: a Mask renamed meanwhile is still the one drawn."""
    tree = getattr(scene, "compositing_node_group", None) or getattr(scene, "node_tree", None)  # 5.x, 4.x
    nodes = (
        [node for node in tree.nodes if node.bl_idname == "CompositorNodeMask"] if tree is not None else []
    )
    return bool(nodes) and all(node.mask is not None for node in nodes)


def _place_on_canvas(path: str, canvas: Sequence[int], scene: bpy.types.Scene) -> None:
    """Rewrite the matte ``path`` (rendered at an EXR plate's data window, which Blender shows pixel for pixel)
    as the plate's display window, which the core fills: placed at ``canvas``'s x, y (top-left, y down, as EXR
    counts), zero where the data window does not reach, cropped where it reaches past (overscan). Saved through
    ``scene``'s settings (16-bit greyscale PNG, Raw, no stamps), as the render was: the values are kept exactly.
    Rendered at the display window's size, the matte was refused as a proxy-resolution mask."""
    import numpy as np  # Blender ships NumPy with its Python

    x, y, width, height = (int(v) for v in canvas)
    small = bpy.data.images.load(path, check_existing=False)
    try:
        small.colorspace_settings.is_data = True
        w, h = int(small.size[0]), int(small.size[1])
        pixels = np.empty(w * h * 4, np.float32)
        small.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(small)
    picture = pixels.reshape(h, w, 4)[::-1]  # Blender's rows run bottom-up; top row first, as EXR counts
    frame = np.zeros((height, width, 4), np.float32)
    frame[..., 3] = 1.0
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x0 < x1 and y0 < y1:
        frame[y0:y1, x0:x1] = picture[y0 - y : y1 - y, x0 - x : x1 - x]
    placed = bpy.data.images.new("aifx matte", width, height, float_buffer=True, is_data=True)
    try:
        placed.pixels.foreach_set(np.ascontiguousarray(frame[::-1]).ravel())
        placed.save_render(path, scene=scene)
    finally:
        bpy.data.images.remove(placed)


def mask_aspect(block: Any) -> float:
    """How much taller than square the editor shows a pixel of ``block`` (a Movie Clip or an Image; 1.0 for
    a plate given by path): Blender stores a Mask drawn over it in that aspect-corrected space.

    ``BKE_mask_coord_from_movieclip`` scales y by display aspect y / x / the tracking camera's Pixel Aspect,
    ``BKE_mask_coord_from_image`` by the image's display aspect y / x. Rasterised square, an anamorphic
    plate's matte came out squashed and roto parented to a track slid off the object.
    """
    display = getattr(block, "display_aspect", None)
    if display is None or display[0] <= 0 or display[1] <= 0:
        return 1.0
    aspect = float(display[1]) / float(display[0])
    tracking = getattr(block, "tracking", None)
    if tracking is not None and tracking.camera.pixel_aspect > 0:
        aspect /= float(tracking.camera.pixel_aspect)
    return aspect


def _check_aspect(aspect: float, width: int, height: int) -> None:
    """Refuse a plate whose non-square pixels the Mask node cannot match at the plate's size.

    The Mask node (Size Source: Scene Size) scales y alone by the render's pixel aspect and keeps the
    longer side of the pixel grid as the mask's unit, where the editor keeps the longer side of the
    aspect-corrected picture: they agree when both are the width (or the pixels are square). Otherwise the
    matte would come out scaled about the centre, so it is refused instead of filling the wrong place.
    """
    if abs(aspect - 1.0) < 1e-6 or width >= max(height, height * aspect):
        return
    raise ValueError(
        f"the plate's {width}x{height} pixels are not square and show as a {width}x{round(height * aspect)} "
        "picture; AI Fill rasterises a Mask over non-square pixels only when the pixels and the picture "
        "are both wider than tall. Render the Mask to an image sequence and pick it as the Matte instead"
    )


def _pixel_aspect(aspect: float) -> tuple[float, float]:
    """Render pixel aspect (x, y) whose y / x is ``aspect``: the Mask node (Scene Size) corrects by it.
    Blender keeps both at 1 or more, so the smaller is 1."""
    return (1.0 / aspect, 1.0) if aspect < 1.0 else (1.0, aspect)


def _setup_scene(
    scene: bpy.types.Scene, mask: bpy.types.Mask, width: int, height: int, aspect: float = 1.0
) -> None:
    """A scene that renders only the compositor: the Mask, Raw view, no dither, 16-bit greyscale PNG, no
    metadata (so an unchanged Mask gives byte-identical files). ``aspect`` is :func:`mask_aspect` of the
    plate, so the matte covers what the artist drew over the anamorphic picture."""
    render = scene.render
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
    render.pixel_aspect_x, render.pixel_aspect_y = _pixel_aspect(aspect)
    render.use_compositing = True
    render.use_sequencer = False
    render.dither_intensity = 0.0
    render.use_file_extension = True
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "BW"
    render.image_settings.color_depth = "16"
    _raw_view(scene)
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    _no_metadata(render)
    _build_compositor(scene, mask)


def _raw_view(scene: bpy.types.Scene) -> None:
    """The Raw view, which writes the mask's values unchanged; a colour config without one is refused with
    what to do (every other view would bend the matte's soft edge: Un-tone-mapped is the display's curve)."""
    try:
        scene.view_settings.view_transform = "Raw"
    except TypeError:
        config = os.environ.get("OCIO")
        where = f"the OCIO config {config} ($OCIO)" if config else "Blender's colour config"
        raise ValueError(
            f"{where} has no 'Raw' view, which writes the Mask's values unchanged; add a Raw view (the "
            "config's data colour space) to its display, or render the Mask to an image sequence and pick "
            "it as the Matte"
        ) from None


def _no_metadata(render: bpy.types.RenderSettings) -> None:
    """Turn off every render stamp (burnt in, and written as PNG text: Date, Time, Render Time...).

    The core knows a finished frame by the bytes of its matte: with a date in the file, each rasterise of an
    unchanged Mask looked like new roto, so pressing AI Fill again never resumed.
    """
    for prop in render.bl_rna.properties:
        if prop.identifier.startswith("use_stamp") and prop.type == "BOOLEAN" and not prop.is_readonly:
            setattr(render, prop.identifier, False)


def rasterize_mask(
    mask: bpy.types.Mask,
    size: Sequence[int],
    scene_frames: Sequence[int],
    file_numbers: Sequence[int],
    pattern: str,
    source_scene: bpy.types.Scene | None = None,
    aspect: float = 1.0,
) -> str:
    """Write ``pattern`` (``…####.png``) for each scene frame, numbered like the plate's files.

    ``scene_frames[i]`` is when the mask is evaluated and ``file_numbers[i]`` the plate file it belongs to,
    so a clip that starts at scene frame 1001 with files ``0000.png…`` gets mattes ``0000.png…``.
    ``source_scene`` (default: the context's scene) is the scene whose frame drives the mask's animation;
    ``aspect`` is the plate's :func:`mask_aspect`.
    """
    raster = MaskRaster(
        mask, size, scene_frames, file_numbers, pattern, source_scene or bpy.context.scene, aspect
    )
    try:
        while raster.step():
            pass
    finally:
        raster.close()
    return pattern
