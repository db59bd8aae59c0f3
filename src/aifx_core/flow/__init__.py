"""Optical flow for the temporal engine: estimators (OpenCV DIS by default, pluggable), flow completion inside
holes, warping and the forward-backward consistency check."""

from .completion import complete_flow, complete_flows, complete_flows_scored
from .estimator import (
    DIS_PRESETS,
    DISFlow,
    FlowEstimator,
    estimate_flow,
    flow_gray,
    upscale_flow,
    working_size,
)
from .fill import line_fill, push_pull_fill
from .motion import background_layers, moving_objects
from .ops import consistency_mask, median_side, sample_points, sample_points_sharp, warp

__all__ = [
    "DIS_PRESETS",
    "DISFlow",
    "FlowEstimator",
    "background_layers",
    "complete_flow",
    "complete_flows",
    "complete_flows_scored",
    "consistency_mask",
    "estimate_flow",
    "flow_gray",
    "moving_objects",
    "line_fill",
    "push_pull_fill",
    "median_side",
    "sample_points",
    "sample_points_sharp",
    "upscale_flow",
    "warp",
    "working_size",
]
