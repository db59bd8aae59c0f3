"""aifx AI Fill for Blender: remove objects from image sequences with the aifx core, run out of process.

The extension is thin glue: it rasterises the artist's Mask, writes an aifx ``FillJob`` and runs
``python -m aifx_core run JOB --json-progress`` in the Python named in the preferences. It never imports
torch or aifx_core. Modules that need ``bpy`` are imported in :func:`register`, so the plain-Python parts
(``jobs``, ``session``, ``aifx_protocol``) can be imported and tested without Blender.
"""

from __future__ import annotations

_modules: list = []


def register() -> None:
    import bpy

    from . import operators, panels, preferences, settings

    _modules[:] = [settings, preferences, operators, panels]
    for module in _modules:
        for cls in module.classes:
            bpy.utils.register_class(cls)
    settings.register_properties()
    panels.register_menus()


def unregister() -> None:
    import bpy

    from . import panels, settings

    panels.unregister_menus()
    settings.unregister_properties()
    for module in reversed(_modules):
        for cls in reversed(module.classes):
            bpy.utils.unregister_class(cls)
    _modules.clear()
