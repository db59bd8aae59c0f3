# aifx Nuke plugin, loaded for every Nuke session (GUI, nuke -t and nuke -x) once this folder is on NUKE_PATH
# or added with nuke.pluginAddPath() in ~/.nuke/init.py. It makes the aifx_nuke package importable, so an .nk
# script with AIFill nodes opens and renders headless, and when a script opens it points each AIFill node at a
# finished result of its inputs and settings if the cache holds one (a farm task made it: the comp's own render
# then reads it without the script having been saved). An AIFill stops showing a fill that is no longer of its
# settings or inputs (knobChanged, updateUI), and a Write refuses to render one of older inputs (beforeRender).
# The toolbar menu is in menu.py (GUI only).
import os
import sys

import nuke

_PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
if _PLUGIN_DIR not in sys.path:
    sys.path.append(_PLUGIN_DIR)


def _aifx_results_on_load() -> None:
    from aifx_nuke import nodes

    nodes.attach_cached_results()


def _aifx_knob_changed() -> None:
    from aifx_nuke import nodes

    nodes.on_knob_changed()


def _aifx_update_ui() -> None:
    from aifx_nuke import nodes

    nodes.on_update_ui()


def _aifx_before_render() -> None:
    from aifx_nuke import nodes

    nodes.check_before_render()


nuke.addOnScriptLoad(_aifx_results_on_load)
# An AIFill's setting changed in its panel: stop showing a fill of the old settings. Every class: an AIFill exported
# as a gizmo has the gizmo's name as its class (the handler returns at once for other nodes).
nuke.addKnobChanged(_aifx_knob_changed, nodeClass="*")
# Nuke 14-16 call knobChanged only while the node's panel is open: an input reconnected in the DAG, or a setting
# changed from outside the panel, is seen when the GUI goes idle (updateUI runs on every node then).
nuke.addUpdateUI(_aifx_update_ui, nodeClass="*")
# Before any Write renders (GUI, nuke -x): refuse while an AIFill it reads shows a fill of older inputs.
nuke.addBeforeRender(_aifx_before_render)
