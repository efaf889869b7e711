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

The modules depend one way: ``image`` ← ``niqe`` ← ``protocol``. Inputs are checked with the shared
validators of ``stvsr_blocks/_check.py`` (the argument's name, what was expected, what was received).

**kornia: a test reference, not a dependency.** :func:`ssim` computes the same map as
``kornia.metrics.ssim(x, y, 11, padding="valid", eps=0.0)`` (mean per image equal to 1e-12, exactly
equal on the measured pairs; ``tests/test_metrics.py`` checks Y and RGB, rounded and not), and
:func:`rgb_to_y_bt601` is ``(16 + 219 · Y) / 255`` of kornia's full-range ``rgb_to_ycbcr`` (checked
to 1e-14). The library nevertheless keeps its own code and kornia is in the ``dev`` extra only,
decided by measurement (kornia 0.9.0, torch 2.14 CPU, one thread, a 1280×720 pair in float64 — the
dtype the scores are computed in —, five interleaved fresh-process repeats on a loaded machine; time
as a ratio to ours, peak RSS over the inputs including the shared 8-bit/luma preparation):

* Y channel: kornia takes 3.1× our time (median; 2.8-6.2×), peak 164-193 MB against our 91-148 MB;
* RGB: kornia takes 3.1× our time (1.4-3.8×), peak 361-486 MB against our 292-439 MB;
* kornia's fast path is float32 only (channels-last oneDNN): 0.37× our time for RGB but 2.2× for Y,
  and it moves scores by 2-5e-7, so it does not reproduce the float64 protocol scores.

Both stay far under the 4 GB of a 720p evaluation (the earlier problem, a 2-D float64 ``conv2d``
unfolding 13 GB, is gone in both; ``test_720p_peak_memory`` guards ours), so the choice is by speed
and by imports: the evaluation path imports this package on the device machine, whose Python has no
kornia (``stvsr_blocks.recipe.device``). The luma is a one-line formula; kornia's would also compute
Cb and Cr and need the rescale.
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
