"""Data: dataset readers and layout checker, degradations, video I/O, training samples, synthetic video.

The modules are imported lazily by name (``stvsr_blocks.data.datasets`` etc.); the most used names
are re-exported here.
"""

from stvsr_blocks.data.datasets import Clip, open_dataset
from stvsr_blocks.data.degrade import downscale, keep_odd_frames, make_stvsr_pair
from stvsr_blocks.data.layouts import LAYOUTS, check_layout
from stvsr_blocks.data.synthetic import (
    SyntheticClip,
    SyntheticVideoConfig,
    SyntheticVideoDataset,
    heldout_synthetic_dataset,
    render_synthetic_clip,
    synthetic_flow,
)
from stvsr_blocks.data.train import STVSRTrainDataset, TrainSample
from stvsr_blocks.data.video import VideoWriter, read_video_frames, video_info

__all__ = [
    "Clip",
    "LAYOUTS",
    "STVSRTrainDataset",
    "SyntheticClip",
    "SyntheticVideoConfig",
    "SyntheticVideoDataset",
    "TrainSample",
    "VideoWriter",
    "check_layout",
    "downscale",
    "heldout_synthetic_dataset",
    "keep_odd_frames",
    "make_stvsr_pair",
    "open_dataset",
    "read_video_frames",
    "render_synthetic_clip",
    "synthetic_flow",
    "video_info",
]
