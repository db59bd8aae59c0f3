"""DIS's cheaper settings on slow pairs (``flow.estimator.SLOW_SETTINGS``, docs/method.md "Speed, eleventh pass").

With ``DISFlow(slow=True)`` (the propagate engine's) a pair whose global motion is found and under
``prealign_px`` runs DIS with a sparser patch grid; a fast pair (pre-aligned) and a pair whose global motion is
unknown keep the preset, and so does every other caller (the benchmark's E_warp). The choice is made from the
two images alone, so a pair's flow stays a function of its two frames.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from aifx_core.flow import DISFlow, flow_gray
from aifx_core.flow import estimator as estimator_module
from aifx_core.propagate import pair_flow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import hard_clips  # noqa: E402


def _pair(speed: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    clip = hard_clips.fast_pan(count=2, speed=speed)
    size = (clip.height, clip.width)
    a, b = (flow_gray(clip.frame(t), None, size, "sRGB")[0] for t in (0, 1))
    return a, b, clip.flow(0)


def _dis(stride: int | None = None, refine: int | None = None) -> cv2.DISOpticalFlow:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    if stride is not None:
        dis.setPatchStride(stride)
    if refine is not None:
        dis.setVariationalRefinementIterations(refine)
    return dis


def test_a_slow_pair_takes_the_cheaper_settings_and_keeps_its_motion() -> None:
    a, b, truth = _pair((2.0, 3.0))
    flow = DISFlow(slow=True).estimate(a, b)
    stride, refine = estimator_module.SLOW_SETTINGS["medium"]
    np.testing.assert_array_equal(flow, _dis(stride, refine).calc(a, b, None))
    medium = _dis().calc(a, b, None)
    assert not np.array_equal(flow, medium)  # (the preset's own flow differs: the test can fail)
    np.testing.assert_array_equal(DISFlow().estimate(a, b), medium)  # (not asked for: the preset)
    # Away from the frame's edges (content entering) the cheaper flow finds the camera's motion as well.
    inner = (slice(20, -20), slice(20, -20))
    error = np.hypot(*(flow[inner] - truth[inner]).reshape(-1, 2).T)
    error_medium = np.hypot(*(medium[inner] - truth[inner]).reshape(-1, 2).T)
    assert np.median(error) < 0.25
    assert np.median(error) < np.median(error_medium) + 0.1


@pytest.mark.parametrize("prealign", [True, False])
def test_a_fast_pair_or_an_unaligned_estimator_keeps_the_preset(prealign: bool) -> None:
    for speed in ((20.0, 30.0), (2.0, 3.0)):
        a, b, _ = _pair(speed)
        if speed[0] < 4 and prealign:
            continue  # (the slow pair of an aligning estimator: the test above)
        flow = DISFlow(prealign=prealign, slow=True).estimate(a, b)
        np.testing.assert_array_equal(flow, DISFlow(prealign=prealign).estimate(a, b))


def test_a_pair_without_a_global_motion_keeps_the_preset() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (120, 160), np.uint8)  # two unrelated noise images: no motion is found
    b = rng.integers(0, 256, (120, 160), np.uint8)
    assert estimator_module.global_motion(a, b) is None
    assert estimator_module.thumbnail_translation(a, b) is None
    np.testing.assert_array_equal(DISFlow(slow=True).estimate(a, b), _dis().calc(a, b, None))


def test_the_helper_process_builds_the_same_estimator(monkeypatch) -> None:
    a, b, _ = _pair((2.0, 3.0))
    monkeypatch.setattr(pair_flow, "_ESTIMATORS", {})
    flows = {}
    for slow in (True, False):
        estimator = DISFlow(slow=slow)
        spec = pair_flow.estimator_spec(estimator)
        assert spec is not None and spec[-1] == (estimator_module.SLOW_SETTINGS["medium"] if slow else None)
        built = pair_flow._estimator_from_spec(spec)
        flows[slow] = built.estimate(a, b)
        np.testing.assert_array_equal(flows[slow], estimator.estimate(a, b))
    assert not np.array_equal(flows[True], flows[False])  # (two specs, two estimators)
