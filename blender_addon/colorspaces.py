"""Blender's colourspace names → the names of the colour config the aifx core converts with.

Blender reads a clip or image in one of the colour spaces of *its* OCIO config ("Linear Rec.709",
"Non-Color", "Rec.1886", …), while the core converts with a pinned ACES studio config whose names differ
("Linear Rec.709 (sRGB)", "Raw", "Gamma 2.4 Encoded Rec.709", …). The job must carry the core's name for the
same encoding, or the core rejects the plate. No ``bpy`` and no OCIO here: Blender's own Python has no
PyOpenColorIO, so the table is written out, and a test checks every entry against both configs with OCIO
(the conversion from Blender's space to the core's space must be the identity).

Blender spaces that hold display code values made by a view transform (Filmic sRGB, AgX Base sRGB, the ACES
sRGB output spaces, Khronos PBR Neutral sRGB) are filled as what an sRGB display shows, which is exactly what
the core does with an sRGB-encoded plate: the models see the pixels unchanged and the fill goes back
unchanged. Spaces with no equivalent in the core's config are refused with what to choose instead.
Names Blender does not ship (a studio ``$OCIO`` config) go to the core as they are: it knows the ACES names.
"""

from __future__ import annotations

#: Blender 4.2-5.0 colour space name → the core config's name for the same encoding (checked with OCIO).
EQUIVALENT: dict[str, str] = {
    "Linear Rec.709": "Linear Rec.709 (sRGB)",
    "Linear Rec.2020": "Linear Rec.2020",
    "Linear DCI-P3 D65": "Linear P3-D65",
    "Linear CIE-XYZ D65": "CIE XYZ-D65 - Scene-referred",
    "ACES2065-1": "ACES2065-1",
    "ACEScg": "ACEScg",
    "ACEScc": "ACEScc",
    "ACEScct": "ACEScct",
    "sRGB": "sRGB Encoded Rec.709 (sRGB)",
    "Display P3": "sRGB Encoded P3-D65",
    "Rec.1886": "Gamma 2.4 Encoded Rec.709",
    "Rec.2100-PQ": "Rec.2100-PQ - Display",
    "Rec.2100-HLG": "Rec.2100-HLG - Display",
    "Non-Color": "Raw",
}

#: Display code values for an sRGB display, made through a view transform: filled as they are displayed.
AS_DISPLAYED: dict[str, str] = {
    name: "sRGB Encoded Rec.709 (sRGB)"
    for name in ("Filmic sRGB", "AgX Base sRGB", "ACES 1.3 sRGB", "ACES 2.0 sRGB", "Khronos PBR Neutral sRGB")
}

#: Blender spaces the core's config has no equivalent for (another white point, gamut or log curve).
UNSUPPORTED = frozenset({"Rec.2020", "Linear CIE-XYZ E", "Linear FilmLight E-Gamut", "Filmic Log", "AgX Log"})

#: Blender's name for the blend file's working space (``scene_linear`` role; Blender 5.0 lets a file choose it).
WORKING_SPACE = "scene_linear"


class ColorspaceError(ValueError):
    """A Blender colour space the core cannot read; the message says what to choose instead."""


def core_colorspace(name: str, working_space: str = "Linear Rec.709", field: str = "Color Space") -> str:
    """The core's colour space name for Blender's ``name``; ``field`` names where the artist sets it.

    ``working_space`` is what ``scene_linear`` ("Working Space") means in this blend file
    (``bpy.data.colorspace.working_space`` in Blender 5.0; always Linear Rec.709 before).
    """
    if name == WORKING_SPACE:
        name = working_space
    if name in EQUIVALENT:
        return EQUIVALENT[name]
    if name in AS_DISPLAYED:
        return AS_DISPLAYED[name]
    if name in UNSUPPORTED:
        raise ColorspaceError(
            f"{field} '{name}' has no equivalent in aifx's colour config; set {field} to the space the files "
            "were written in (Linear Rec.709, ACEScg, sRGB, …), or to Non-Color to fill the stored values as "
            "they are"
        )
    return name
