"""Data: dataset readers and layout checker, degradations, video I/O, training samples, synthetic video.

The submodules are imported by name (``stvsr_blocks.data.datasets`` etc.); the most used names are
re-exported here and imported lazily, on first access (module ``__getattr__``), so importing the package —
and the training path, which uses only the renderers, degradations and samples — does not import PyAV
(needed by :mod:`stvsr_blocks.data.video` alone). ``from stvsr_blocks.data import VideoWriter`` works as
before and imports PyAV then.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from stvsr_blocks.data.datasets import Clip, open_dataset
    from stvsr_blocks.data.degrade import downscale, keep_odd_frames, make_stvsr_pair
    from stvsr_blocks.data.layouts import LAYOUTS, Layout, check_layout, get_layout, register_layout
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

#: Re-exported name -> the submodule that defines it (imported on first access).
_LAZY: dict[str, str] = {
    "Clip": "datasets",
    "open_dataset": "datasets",
    "downscale": "degrade",
    "keep_odd_frames": "degrade",
    "make_stvsr_pair": "degrade",
    "LAYOUTS": "layouts",
    "Layout": "layouts",
    "check_layout": "layouts",
    "get_layout": "layouts",
    "register_layout": "layouts",
    "SyntheticClip": "synthetic",
    "SyntheticVideoConfig": "synthetic",
    "SyntheticVideoDataset": "synthetic",
    "heldout_synthetic_dataset": "synthetic",
    "render_synthetic_clip": "synthetic",
    "synthetic_flow": "synthetic",
    "STVSRTrainDataset": "train",
    "TrainSample": "train",
    "VideoWriter": "video",
    "read_video_frames": "video",
    "video_info": "video",
}

__all__ = [
    "Clip",
    "LAYOUTS",
    "Layout",
    "STVSRTrainDataset",
    "SyntheticClip",
    "SyntheticVideoConfig",
    "SyntheticVideoDataset",
    "TrainSample",
    "VideoWriter",
    "check_layout",
    "downscale",
    "get_layout",
    "heldout_synthetic_dataset",
    "keep_odd_frames",
    "make_stvsr_pair",
    "open_dataset",
    "read_video_frames",
    "register_layout",
    "render_synthetic_clip",
    "synthetic_flow",
    "video_info",
]


def __getattr__(name: str) -> Any:
    """Import a re-exported name's submodule on first access (PEP 562).

    Args:
        name: the attribute asked for.

    Returns:
        The object.

    Raises:
        AttributeError: if ``name`` is neither re-exported here nor a submodule.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stvsr_blocks.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"stvsr_blocks.data.{module}"), name)
    globals()[name] = value  # later accesses skip __getattr__
    return value


def __dir__() -> list[str]:
    """The module's names including the lazily re-exported ones.

    Returns:
        The sorted names.
    """
    return sorted(set(globals()) | set(_LAZY))
