# mypy: disable-error-code="valid-type"
"""Add-on preferences: which Python runs aifx, and the Check button that says what is missing."""

from __future__ import annotations

import importlib.util
import os
import sys

import bpy

from .aifx_protocol import client, remote
from .plates import UserError
from .settings import ONE_SHOT

#: Successful checks this session, so every fill does not start a second Python just to check.
_CHECKED_OK: set = set()

#: What the Check button said last, this session only. Kept out of the preferences: Blender saves every
#: add-on preference (SKIP_SAVE does not apply to them), so a check from an earlier session was shown after
#: a restart as if it were about the aifx Python of now.
_LAST_CHECK = {"message": ""}


class AIFX_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    python_path: bpy.props.StringProperty(
        name="aifx Python",
        description="The virtualenv folder where aifx-core is installed (e.g. ~/aifx/.venv), or its Python "
        "executable (bin/python, Scripts\\python.exe on Windows)",
        subtype="FILE_PATH",
    )
    server_url: bpy.props.StringProperty(
        name="Server URL",
        description="aifx serve machine to run fills on (http://gpu-box:8765); empty: $AIFX_SERVER, else this "
        "machine runs them",
    )
    server_token: bpy.props.StringProperty(
        name="Server Token",
        subtype="PASSWORD",
        description="Your token for the aifx server (from 'aifx serve token add'); empty: $AIFX_TOKEN",
    )

    @property
    def last_check(self) -> str:
        """What the Check button said in this session ("" before it was pressed)."""
        return _LAST_CHECK["message"]

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "python_path")
        row = layout.row()
        row.operator("aifx.check_environment", icon="CHECKMARK")
        if self.last_check:
            row.label(text=self.last_check)
        layout.prop(self, "server_url")
        layout.prop(self, "server_token")


def addon_preferences(context: bpy.types.Context | None = None) -> AIFX_AddonPreferences | None:
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def server_settings(context: bpy.types.Context | None = None) -> tuple[str, str] | None:
    """(URL, token) of the aifx server to run on: the preferences, else ``$AIFX_SERVER``/``$AIFX_TOKEN``;
    None runs the fill on this machine.

    Blender's extension policy: an add-on goes online only while **Allow Online Access** is on (the manifest
    declares the ``network`` permission), so with a server set and online access off this refuses.
    """
    prefs = addon_preferences(context)
    url = (prefs.server_url.strip() if prefs is not None else "") or os.environ.get("AIFX_SERVER", "").strip()
    if not url:
        return None
    where = "Server URL" if prefs is not None and prefs.server_url.strip() else "$AIFX_SERVER"
    try:  # before anything is written: a bad URL used to fail only when the job was sent, with a traceback
        url = remote.check_server_url(url)
    except remote.RemoteError as exc:
        fix = (
            "correct it (Edit > Preferences > Add-ons > aifx AI Fill), or clear it"
            if where == "Server URL"
            else "correct it, or unset it"
        )
        raise UserError(
            f"{str(exc).replace('server URL', where, 1)} (e.g. http://gpu-box:8765); {fix} to fill on this machine"
        ) from None
    if not bpy.app.online_access:
        raise UserError(
            f"{where} is {url} but Blender's Allow Online Access is off: turn it on (Edit > Preferences > "
            "System > Network), or clear Server URL (and $AIFX_SERVER) to fill on this machine"
        )
    token = (prefs.server_token if prefs is not None else "") or os.environ.get("AIFX_TOKEN", "")
    return url, token


#: Where a virtualenv (or conda env) keeps its Python, relative to the environment folder.
VENV_PYTHONS = (("bin", "python"), ("bin", "python3"), ("Scripts", "python.exe"), ("python.exe",))


def python_in(path: str) -> str:
    """``path`` itself, or for an environment folder the Python inside it (the folder when it has none,
    so :func:`check_python` can say so)."""
    if not os.path.isdir(path):
        return path
    for parts in VENV_PYTHONS:
        candidate = os.path.join(path, *parts)
        if os.path.isfile(candidate):
            return candidate
    return path


def _expand(path: str) -> str:
    """``~`` is the home folder (the tooltip's ``~/aifx/.venv``), ``//`` the .blend's folder."""
    return bpy.path.abspath(os.path.expanduser(path.strip()))


def resolve_python(context: bpy.types.Context | None = None, override: str = "") -> str:
    """The Python that runs the worker: the operator's ``python``, the preference, ``$AIFX_PYTHON``, or
    Blender's own Python when aifx-core happens to be installed in it (the ``bpy`` module in a venv).
    Each may name the environment folder instead of its Python."""
    if override:
        return python_in(_expand(override))
    prefs = addon_preferences(context)
    if prefs is not None and prefs.python_path:
        return python_in(_expand(prefs.python_path))
    if os.environ.get("AIFX_PYTHON"):
        return python_in(_expand(os.environ["AIFX_PYTHON"]))
    if importlib.util.find_spec("aifx_core") is not None and os.path.exists(sys.executable):
        return sys.executable
    return ""


def check_python(python: str, force: bool = False) -> tuple[bool, str]:
    if python in _CHECKED_OK and not force:
        return True, f"aifx-core found in {python}"
    if os.path.isdir(python):
        return False, (
            f"no Python in the folder {python} (looked for bin/python and Scripts\\python.exe): set aifx Python "
            "to the virtualenv where aifx-core is installed, or to its python"
        )
    ok, message = client.check_environment(python)
    if ok:
        _CHECKED_OK.add(python)
    return ok, message


class AIFX_OT_check_environment(bpy.types.Operator):
    """Check that the aifx Python runs and has aifx-core installed"""

    bl_idname = "aifx.check_environment"
    bl_label = "Check"
    bl_options = {"INTERNAL"}

    # SKIP_SAVE: a Python named once (python=...) was checked again by the next press naming none, the Check
    # button's, so a broken preference was reported fine.
    python: bpy.props.StringProperty(
        name="Python", description="Python to check (default: the preference)", options=ONE_SHOT
    )

    def execute(self, context: bpy.types.Context) -> set:
        python = resolve_python(context, self.python)
        ok, message = check_python(python, force=True)
        _LAST_CHECK["message"] = message
        self.report({"INFO"} if ok else {"ERROR"}, message)
        return {"FINISHED"} if ok else {"CANCELLED"}


classes = (AIFX_AddonPreferences, AIFX_OT_check_environment)
