"""Blender's extension policy: the add-on declares the network permission and sends a fill to an aifx server
only while Blender's Allow Online Access is on."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender


def test_the_manifest_declares_the_network_permission(extension_zip: Path) -> None:
    with zipfile.ZipFile(extension_zip) as archive:
        manifest = archive.read("blender_manifest.toml").decode()
    permissions = manifest[manifest.index("[permissions]") :].split("\n[", 1)[0]
    assert "\nnetwork = " in permissions


def test_a_server_is_used_only_with_online_access(blender, exr_shot: Path) -> None:
    """With $AIFX_SERVER set in the artist's shell and Allow Online Access off, fills went to the server."""
    result = blender(
        """
import socket, threading, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(5)
requests = []
def accept():
    while True:
        connection, _ = listener.accept()
        requests.append(connection.recv(200).split(b"\\r\\n")[0].decode())
        connection.close()
threading.Thread(target=accept, daemon=True).start()
os.environ["AIFX_SERVER"] = "http://127.0.0.1:%d" % listener.getsockname()[1]
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 1
def fill():
    return run_fill(clip=clip.name, mask=os.path.join(PLATE, "mask.####.png"), backend="telea")
RESULT["online"] = bpy.app.online_access
RESULT["offline_fill"] = fill()
time.sleep(0.3)
RESULT["offline_requests"] = list(requests)
PREFS.server_url = os.environ["AIFX_SERVER"]
RESULT["preference_fill"] = fill()
bpy.context.preferences.system.use_online_access = True
fill()  # the listener is no aifx server: the fill fails, but only after asking it
time.sleep(0.3)
RESULT["online_requests"] = list(requests)
""",
        exr_shot,
    )
    assert result["online"] is False
    error = result["offline_fill"]["error"]
    assert "$AIFX_SERVER is http://127.0.0.1:" in error, result["log"]
    assert "Allow Online Access is off: turn it on (Edit > Preferences > System > Network)" in error
    assert result["offline_requests"] == []
    assert "Server URL is http://127.0.0.1:" in result["preference_fill"]["error"]
    assert result["online_requests"], "with online access on the fill goes to the server"
