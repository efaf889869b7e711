r"""Image-quality metrics and the evaluation protocols of the STVSR / VFI literature.

Three modules, every name re-exported here (``from stvsr_blocks.metrics import psnr`` works):

* :mod:`stvsr_blocks.metrics.image` — full-reference metrics :func:`psnr`, :func:`ssim`,
  :func:`interpolation_error` and their conventions (BT.601 studio-swing luma :func:`rgb_to_y_bt601`,
  8-bit rounding :func:`quantize_uint8`, border crop, valid 11×11 SSIM);
* :mod:`stvsr_blocks.metrics.niqe` — the no-reference NIQE (:func:`niqe`, :func:`niqe_features`,
  :func:`fit_niqe_model`) and its pristine model (:class:`NiqeModel`, :func:`bundled_niqe_model`,
  :func:`load_niqe_model`, the environment variable :data:`NIQE_PARAMS_ENV`);
* :mod:`stvsr_blocks.metrics.protocol` — the evaluation presets (:class:`EvalProtocol`, :data:`PROTOCOLS`,
  :func:`get_protocol`) and the per-clip averaging (:class:`MetricAccumulator`, :class:`MetricSummary`):
  clip-level results average per clip first, then over clips.

The modules depend one way: ``image`` ← ``niqe`` ← ``protocol``.
"""

from __future__ import annotations

from stvsr_blocks.metrics.image import Channel as Channel  # the type of ``channel=``, as before
from stvsr_blocks.metrics.image import interpolation_error, psnr, quantize_uint8, rgb_to_y_bt601, ssim
from stvsr_blocks.metrics.niqe import (
    NIQE_PARAMS_ENV,
    NiqeModel,
    bundled_niqe_model,
    fit_niqe_model,
    load_niqe_model,
    niqe,
    niqe_features,
)
from stvsr_blocks.metrics.protocol import PROTOCOLS, EvalProtocol, MetricAccumulator, MetricSummary, get_protocol

__all__ = [
    "rgb_to_y_bt601",
    "quantize_uint8",
    "psnr",
    "ssim",
    "interpolation_error",
    "MetricAccumulator",
    "MetricSummary",
    "EvalProtocol",
    "PROTOCOLS",
    "get_protocol",
    "NiqeModel",
    "NIQE_PARAMS_ENV",
    "bundled_niqe_model",
    "load_niqe_model",
    "niqe_features",
    "niqe",
    "fit_niqe_model",
]
