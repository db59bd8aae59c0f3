# aifx Nuke plugin, loaded for every Nuke session (GUI, nuke -t and nuke -x) once this folder is on NUKE_PATH
# or added with nuke.pluginAddPath() in ~/.nuke/init.py. It only makes the aifx_nuke package importable, so an
# .nk script with AIFill nodes opens and renders headless; the toolbar menu is in menu.py (GUI only).
import os
import sys

_PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
if _PLUGIN_DIR not in sys.path:
    sys.path.append(_PLUGIN_DIR)
