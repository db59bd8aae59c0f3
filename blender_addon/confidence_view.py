"""Show where the fill is a guess: the result's confidence in Blender's compositor.

With *Confidence* on, the core writes one more EXR channel, ``fill.confidence`` (1 = the plate, or background
other frames saw; towards 0 = invented). Blender 5.0 opens such a file as a **MULTILAYER** image: the
compositor's Image node then offers ``Combined`` (the filled RGBA; not ``Image``) and a one-channel pass named
``fill`` (the confidence), the Image Editor shows ``Combined`` and lists ``fill`` in its pass menu, and a freshly
loaded one reports size 0x0 and no pixels to Python. A Movie Clip of the same files shows the RGB as before.

So the add-on builds a compositor node group, ``<plate> AI Fill Confidence``, that an artist adds to any
compositor (Add > Group) or picks as the scene's compositor: outputs **Image** (the fill, tinted red by how
unsure it is), **Confidence** (the pass, to key or mask with) and **Fill** (the filled RGBA), plus a Viewer on
the tinted image. Nothing is computed here: the nodes read the result files, so the group follows a rerun.

A result in another format (a clip of a straight-alpha PNG is filled into PNGs) has no room for the channel:
the core writes the confidence as a grey 16-bit PNG sequence in a ``confidence/`` folder beside it, which the
group then reads with a second Image node (:func:`sidecar`).
"""

from __future__ import annotations

import contextlib
import os

import bpy

from .jobs import split_sequence_path
from .plates import read_alpha_as, stored_path
from .targets import earlier_result, shows_output

#: The Image node output that carries the EXR channel ``fill.confidence`` (Blender names the pass ``fill``).
PASS = "fill"
#: The EXR channel the core writes the confidence in.
CHANNEL = "fill.confidence"
#: The folder beside a result in a format without extra channels that holds its confidence sequence.
FOLDER = "confidence"
#: How strongly an unsure pixel is tinted, and the tint (linear red).
TINT = 0.7
TINT_COLOUR = (1.0, 0.05, 0.05, 1.0)
#: Custom property on a confidence group: the result (file or ``####`` pattern) it shows, absolute (File > Save
#: As remaps the Image node's ``//`` path, never a custom property). The group is found by it or by the files
#: its Image node reads, never by its name: see :func:`find_group`.
OUTPUT_PROP = "aifx_output"


def group_name(plate_name: str) -> str:
    return f"{plate_name} AI Fill Confidence"


def find_group(name: str, output: str) -> bpy.types.NodeTree | None:
    """The confidence group an earlier fill built for the result ``output``: a tagged one whose tag or Image
    node names it, else an untagged group named ``name`` whose Image node reads it (made before groups were
    tagged).

    Never by name alone: two plates may share one (a Movie Clip and an Image of plate.1001.exr, or a linked and
    a local clip), and sh020's fill rebuilt sh010's group on sh020's files, so every sh010 comp node that used
    it showed sh020's fill. The Image node too, as it follows the result where a tag cannot: File > Save As
    remaps its ``//`` path (the tag once stored relative named another folder then, and a rerun made
    "... Confidence.001"), and it moves with the project folder."""
    wanted = os.path.normpath(output)
    for tree in bpy.data.node_groups:
        if tree.library is not None or tree.bl_idname != "CompositorNodeTree":
            continue
        tag = tree.get(OUTPUT_PROP)
        if isinstance(tag, str) and (os.path.normpath(tag) == wanted or _reads(tree, output)):
            return tree
    legacy = bpy.data.node_groups.get((name, None))
    if legacy is None or legacy.bl_idname != "CompositorNodeTree" or OUTPUT_PROP in legacy:
        return None
    return legacy if _reads(legacy, output) else None


def _reads(tree: bpy.types.NodeTree, output: str) -> bool:
    """Whether the group's (first) Image node shows files of the result ``output``: the fill it was built for
    (a sidecar group's second Image node reads the confidence sequence beside it)."""
    images = [n.image for n in tree.nodes if n.bl_idname == "CompositorNodeImage" and n.image is not None]
    return bool(images) and shows_output(images[0], output)


def result_image(
    name: str, first_file: str, colorspace: str | None, alpha_mode: str | None = None
) -> bpy.types.Image:
    """The result sequence as an Image datablock (the image route's result itself, else loaded once), its
    alpha read as the plate's (``alpha_mode``: a straight-alpha plate's values are in the EXR as stored)."""
    sequence = split_sequence_path(first_file)
    # By its files, never by name: the artist may have renamed it, and another folder's result has the name.
    image = earlier_result(bpy.data.images, sequence.pattern if sequence is not None else first_file)
    if image is None:
        image = bpy.data.images.load(first_file, check_existing=False)
        image.name = name
        image.filepath = stored_path(first_file)  # as Blender's Open would: relative to a saved .blend
    else:
        image.reload()
    image.source = "SEQUENCE"
    if colorspace:
        # A colourspace this Blender's config lacks raises TypeError: keep its guess then.
        with contextlib.suppress(TypeError):
            image.colorspace_settings.name = colorspace
    read_alpha_as(image, alpha_mode)
    image.use_fake_user = True
    return image


def sidecar(result: str) -> str | None:
    """The confidence file (or pattern) of result file (or pattern) ``result``: None for an EXR, which holds
    it as the channel ``fill.confidence``; else the core's sidecar, the result's whole file name plus ``.png``
    in ``confidence/`` beside it (``plate_fill.1001.png`` -> ``confidence/plate_fill.1001.png.png``, as
    ``aifx_core.confidence.sidecar_path`` names it; Blender finds the frame number in the last digits)."""
    if os.path.splitext(result)[1].lower() == ".exr":
        return None
    folder, name = os.path.split(result)
    return os.path.join(folder, FOLDER, name + ".png")


def where(output: str) -> str:
    """Where the confidence of ``output`` is, for the artist: the EXR channel or the sidecar sequence."""
    side = sidecar(output)
    return f"the channel {CHANNEL} is in {output}" if side is None else f"the confidence is in {side}"


def confidence_image(name: str, first_file: str) -> bpy.types.Image:
    """The sidecar confidence sequence as an Image, read as data (the grey values are the confidence)."""
    image = result_image(name, first_file, None)
    image.colorspace_settings.is_data = True
    return image


def _outputs(image: bpy.types.Image) -> list[str]:
    """The outputs a compositor Image node offers for ``image`` (a MULTILAYER EXR's passes), read on a
    throw-away tree: a group found wrong after it was made or cleared was left empty or broken."""
    probe = bpy.data.node_groups.new(".aifx probe", "CompositorNodeTree")
    try:
        node = probe.nodes.new("CompositorNodeImage")
        node.image = image
        return [socket.name for socket in node.outputs]
    finally:
        bpy.data.node_groups.remove(probe)


def _new_node(tree: bpy.types.NodeTree, *idnames: str) -> bpy.types.Node:
    """The first node type this Blender's compositor has: 5.x shares Mix/Math with the shader nodes, 4.2-4.5
    have their own (``CompositorNodeMixRGB``, ``CompositorNodeMath``)."""
    for idname in idnames[:-1]:
        try:
            return tree.nodes.new(idname)
        except RuntimeError:
            continue
    return tree.nodes.new(idnames[-1])


def build_group(
    name: str,
    output: str,
    image: bpy.types.Image,
    first_scene_frame: int,
    first_number: int,
    count: int,
    confidence: bpy.types.Image | None = None,
) -> bpy.types.NodeTree:
    """Make (or rebuild in place, so group nodes that use it stay linked) the confidence node group of the
    result ``output`` (:func:`find_group`); a new one is named ``name``, or ``name.001``... when that is taken.

    ``confidence``: the sidecar sequence of a result in a format without the channel (:func:`sidecar`);
    None: the result's EXR pass. A result without its pass is refused before the group is made or cleared."""
    if confidence is None and PASS not in _outputs(image):
        raise RuntimeError(f"{image.name}: Blender shows no '{PASS}' pass in {image.filepath}")
    tree = find_group(name, output)
    if tree is None:
        tree = bpy.data.node_groups.new(name, "CompositorNodeTree")
    tree[OUTPUT_PROP] = output  # absolute: Save As remaps no custom property (see OUTPUT_PROP)
    tree.nodes.clear()
    tree.interface.clear()
    tree.interface.new_socket(name="Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    tree.interface.new_socket(name="Confidence", in_out="OUTPUT", socket_type="NodeSocketFloat")
    tree.interface.new_socket(name="Fill", in_out="OUTPUT", socket_type="NodeSocketColor")

    def image_node(shown: bpy.types.Image, y: int) -> bpy.types.Node:
        node = tree.nodes.new("CompositorNodeImage")
        node.image = shown
        # Scene frame f shows file (f - frame_start + 1 + frame_offset), as for the plate.
        node.frame_start, node.frame_offset, node.frame_duration = first_scene_frame, first_number - 1, count
        node.location = (-600, y)
        return node

    source = image_node(image, 0)
    fill = source.outputs.get("Combined") or source.outputs["Image"]
    sure = source.outputs[PASS] if confidence is None else image_node(confidence, -300).outputs["Image"]

    unsure = tree.nodes.new("CompositorNodeInvert")
    unsure.location = (-350, -150)
    tree.links.new(sure, unsure.inputs["Color"])
    strength = _new_node(tree, "ShaderNodeMath", "CompositorNodeMath")
    strength.operation = "MULTIPLY"
    strength.inputs[1].default_value = TINT
    strength.location = (-150, -150)
    tree.links.new(unsure.outputs["Color"], strength.inputs[0])
    red = tree.nodes.new("CompositorNodeRGB")
    red.outputs[0].default_value = TINT_COLOUR
    red.location = (-350, -350)
    tint = _new_node(tree, "ShaderNodeMix", "CompositorNodeMixRGB")
    if hasattr(tint, "data_type"):
        tint.data_type = "RGBA"
    tint.location = (100, 0)
    tree.links.new(strength.outputs[0], tint.inputs.get("Factor") or tint.inputs[0])
    colours = [s for s in tint.inputs if s.type == "RGBA"]
    tree.links.new(fill, colours[0])
    tree.links.new(red.outputs[0], colours[1])
    tinted = next(s for s in tint.outputs if s.type == "RGBA")

    output = tree.nodes.new("NodeGroupOutput")
    output.location = (350, 0)
    tree.links.new(tinted, output.inputs["Image"])
    tree.links.new(sure, output.inputs["Confidence"])
    tree.links.new(fill, output.inputs["Fill"])
    viewer = tree.nodes.new("CompositorNodeViewer")
    viewer.location = (350, -200)
    tree.links.new(tinted, viewer.inputs[0])
    tree.use_fake_user = True
    return tree
