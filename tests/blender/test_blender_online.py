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


def test_a_malformed_server_url_is_named_and_leaves_nothing_behind(blender, exr_shot: Path) -> None:
    """'gpu-box:8765' (no http://), 'http://[bad' or a URL with a space gave a traceback after the job and the
    rasterised mattes were written, and left them there."""
    result = blender(
        """
bpy.context.preferences.system.use_online_access = True
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 2
mask = draw_mask("player", (150, 60, 250, 150), tuple(clip.size))
RESULT["errors"] = {}
for url in ("gpu-box:8765", "http://[bad", "http://gpu-box:8765/ with space"):
    PREFS.server_url = url
    RESULT["errors"][url] = run_fill(clip=clip.name, mask_datablock=mask.name, backend="telea")
    RESULT["errors"][url]["left"] = os.path.exists(os.path.join(PLATE, "aifx_fill"))
""",
        exr_shot,
    )
    for url, error in result["errors"].items():
        assert f"Server URL '{url}'" in error["error"], result["log"]
        assert "expected http(s)://HOST:PORT (e.g. http://gpu-box:8765)" in error["error"]
        assert "Traceback" not in error["error"] and not error["left"]
    assert "Traceback" not in result["log"]


def test_a_server_url_changed_while_the_mask_rasterises_ends_the_run(blender, exr_shot: Path) -> None:
    """The modal path: a Server URL the client refused when the job was sent raised out of the operator's
    modal handler, so the job stayed in the running set and every later press said 'already running'."""
    result = blender(
        """
import types
operators = sys.modules[ADDON + ".operators"]
bpy.context.preferences.system.use_online_access = True
clip = bpy.data.movieclips.load(os.path.join(PLATE, "plate.1001.exr"))
bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 2
mask = draw_mask("player", (150, 60, 250, 150), tuple(clip.size))
PREFS.server_url = "http://gpu-box:8765"
rna = bpy.ops.aifx.fill.get_rna_type()
op = types.SimpleNamespace(**{p.identifier: getattr(p, "default", None) for p in rna.properties})
op.__dict__.update(clip=clip.name, mask_datablock=mask.name, backend="telea")
prepared = operators.prepare(op, bpy.context)
PREFS.server_url = "gpu-box:8765"  # edited while the mask rasterises
# what invoke() sets up, then the operator's modal handler on each timer event
op._run, op._timer, reports = operators.FillRun(prepared), None, []
op.report = lambda kind, message: reports.append(message)
op._cleanup = lambda context: operators.AIFX_OT_fill._cleanup(op, context)
op._finish = lambda context, run: operators.AIFX_OT_fill._finish(op, context, run)
operators._RUNNING_JOBS.add(prepared.job_path)
timer = types.SimpleNamespace(type="TIMER", value="NOTHING")
try:
    while (state := operators.AIFX_OT_fill.modal(op, bpy.context, timer)) == {"RUNNING_MODAL"}:
        pass
    RESULT["state"] = sorted(state)
except Exception as exc:
    RESULT["state"] = f"raised {type(exc).__name__}: {exc}"
RESULT["reports"] = reports
RESULT["running"] = sorted(operators._RUNNING_JOBS)
RESULT["left"] = os.path.exists(os.path.join(PLATE, "aifx_fill"))
""",
        exr_shot,
    )
    assert result["state"] == ["CANCELLED"], result["log"]
    assert result["reports"] and result["reports"][0].startswith(
        "AI Fill failed: Server URL 'gpu-box:8765': expected"
    )
    assert result["running"] == [] and not result["left"]
