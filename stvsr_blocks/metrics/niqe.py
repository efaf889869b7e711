r"""NIQE, the Naturalness Image Quality Evaluator (Mittal, Soundararajan & Bovik 2013), and its pristine model.

NIQE is no-reference (lower is more natural). It follows the authors' MATLAB release (``computequality.m``,
``estimatemodelparam.m``): :func:`niqe_features` computes the 36 patch features, :func:`niqe` the distance of
an image's feature Gaussian to the pristine model, :func:`fit_niqe_model` fits a model. The authors' pristine
model ships with the library (values, provenance, checksum and licence in
``stvsr_blocks/metrics/_niqe_pristine.py``); :func:`load_niqe_model` picks it, or the file named by
:data:`NIQE_PARAMS_ENV`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from stvsr_blocks._check import check_bool, check_choice, check_float_range, check_image, check_int
from stvsr_blocks.data.degrade import imresize_matlab
from stvsr_blocks.metrics.image import _crop_border, quantize_uint8, rgb_to_y_bt601

__all__ = [
    "NiqeModel",
    "NIQE_PARAMS_ENV",
    "bundled_niqe_model",
    "load_niqe_model",
    "niqe_features",
    "niqe",
    "fit_niqe_model",
]

#: Environment variable naming a file with the NIQE pristine model (see :func:`load_niqe_model`).
NIQE_PARAMS_ENV = "STVSR_NIQE_PARAMS"


def _check_patch_size(patch_size: object) -> int:
    """An even int >= 4 (the patch side is halved for the second scale)."""
    check_int(patch_size, "patch_size", low=4)
    if patch_size % 2:  # type: ignore[operator]
        raise ValueError(f"patch_size: expected an even int (halved for the second scale), got {patch_size}")
    return patch_size  # type: ignore[return-value]


@dataclass(frozen=True)
class NiqeModel:
    """A NIQE multivariate-Gaussian model of natural-image features.

    Args:
        mu: ``(36,)`` float64 mean feature vector.
        cov: ``(36, 36)`` float64 feature covariance.
        patch_size: patch size the features were computed on (96 for the standard model).
        source: where the model came from (a path or ``"fitted"``), for reports.
    """

    mu: Tensor
    cov: Tensor
    patch_size: int = 96
    source: str = field(default="")

    def __post_init__(self) -> None:
        if not isinstance(self.mu, Tensor) or self.mu.shape != (36,):
            raise ValueError(f"mu: expected a tensor of shape (36,), got {getattr(self.mu, 'shape', type(self.mu))}")
        if not isinstance(self.cov, Tensor) or self.cov.shape != (36, 36):
            raise ValueError(
                f"cov: expected a tensor of shape (36, 36), got {getattr(self.cov, 'shape', type(self.cov))}"
            )
        _check_patch_size(self.patch_size)


_MU_KEYS = ("pop_mu", "mu_prisparam", "mu_pris_param", "mu")
_COV_KEYS = ("pop_cov", "cov_prisparam", "cov_pris_param", "cov")


def _read_params(path: Path) -> NiqeModel:
    if not path.is_file():
        raise FileNotFoundError(f"NIQE model file not found: {path}")
    if path.suffix == ".mat":
        try:
            from scipy.io import loadmat
        except ImportError as err:  # pragma: no cover - scipy is a dev dependency
            raise ImportError("reading a .mat NIQE model needs scipy (pip install scipy), or convert it to .npz") from err
        data = {k: v for k, v in loadmat(str(path)).items() if not k.startswith("__")}
    else:
        with np.load(path) as npz:
            data = {k: npz[k] for k in npz.files}
    mu_key = next((k for k in _MU_KEYS if k in data), None)
    cov_key = next((k for k in _COV_KEYS if k in data), None)
    if mu_key is None or cov_key is None:
        raise ValueError(
            f"{path}: expected arrays named one of {_MU_KEYS} and one of {_COV_KEYS}, found {sorted(data)}"
        )
    mu = torch.as_tensor(np.asarray(data[mu_key], dtype=np.float64).reshape(-1))
    cov = torch.as_tensor(np.asarray(data[cov_key], dtype=np.float64))
    return NiqeModel(mu=mu, cov=cov, patch_size=96, source=str(path))


def bundled_niqe_model() -> NiqeModel:
    """The authors' pristine NIQE model as shipped with stvsr_blocks (96×96 patches, 36 features).

    The values are ``mu_prisparam`` / ``cov_prisparam`` of the NIQE MATLAB release's
    ``modelparameters.mat`` (LIVE, UT Austin); provenance, checksum and the release's licence notice
    are in ``stvsr_blocks/metrics/_niqe_pristine.py``.

    Returns:
        The :class:`NiqeModel` (``source`` names the release).

    Example:
        >>> m = bundled_niqe_model()
        >>> tuple(m.mu.shape), tuple(m.cov.shape), m.patch_size
        ((36,), (36, 36), 96)
    """
    from stvsr_blocks.metrics import _niqe_pristine as params

    return NiqeModel(mu=torch.tensor(params.MU, dtype=torch.float64), cov=torch.tensor(params.COV, dtype=torch.float64),
                     patch_size=params.PATCH_SIZE, source=params.SOURCE)


def load_niqe_model(path: str | os.PathLike[str] | None = None) -> NiqeModel:
    """Load a pristine NIQE model; by default the authors' one, which ships with stvsr_blocks.

    It is looked up, in order:

    1. ``path``, if given;
    2. the file named by the environment variable ``STVSR_NIQE_PARAMS``;
    3. the bundled model of :func:`bundled_niqe_model` (the authors' ``modelparameters.mat``).

    Accepted files: ``.mat`` (needs scipy) or ``.npz`` holding a 36-vector and a 36×36 matrix under
    the names ``mu_prisparam``/``cov_prisparam`` (the authors' release), ``mu_pris_param``/
    ``cov_pris_param`` (BasicSR), ``pop_mu``/``pop_cov`` or ``mu``/``cov``.

    Args:
        path: explicit model file.

    Returns:
        The :class:`NiqeModel`.

    Raises:
        FileNotFoundError: if ``path`` or the environment variable points to a missing file.
        ValueError: if the file lacks the arrays or they have the wrong shapes.
    """
    if path is not None:
        return _read_params(Path(path))
    env = os.environ.get(NIQE_PARAMS_ENV)
    if env:
        try:
            return _read_params(Path(env))
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"{NIQE_PARAMS_ENV}: {exc} (unset it to use the bundled model)") from exc
    return bundled_niqe_model()


_GAM = torch.arange(200, 10001, dtype=torch.float64) / 1000.0  # 0.2 : 0.001 : 10, as MATLAB
_R_GAM = torch.exp(2 * torch.lgamma(2 / _GAM) - torch.lgamma(1 / _GAM) - torch.lgamma(3 / _GAM))


def _aggd(v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """AGGD fit per row of ``v`` ``(P, N)`` (MATLAB ``estimateaggdparam``): alpha, beta_left, beta_right."""
    neg, pos = v < 0, v > 0
    left = torch.sqrt((v.square() * neg).sum(1) / neg.sum(1))
    right = torch.sqrt((v.square() * pos).sum(1) / pos.sum(1))
    gammahat = left / right
    rhat = v.abs().mean(1).square() / v.square().mean(1)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat.square() + 1).square()
    idx = (_R_GAM.to(v.device)[None] - rhatnorm[:, None]).square().argmin(dim=1)
    alpha = _GAM.to(v.device)[idx]
    # An all-NaN search (flat patch) picks the first grid value, like MATLAB's min; the scales stay NaN.
    ratio = torch.exp(0.5 * (torch.lgamma(1 / alpha) - torch.lgamma(3 / alpha)))
    return alpha, left * ratio, right * ratio


def _patch_features(mscn: Tensor, size: int) -> Tensor:
    """18 features per non-overlapping ``size``×``size`` patch of ``mscn`` ``(H, W)`` (``computefeature.m``)."""
    p = mscn.unfold(0, size, size).unfold(1, size, size).reshape(-1, size, size)
    feats = []
    alpha, bl, br = _aggd(p.flatten(1))
    feats += [alpha, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):  # circshift within the patch, as MATLAB
        pair = (p * torch.roll(p, shifts=shift, dims=(1, 2))).flatten(1)
        alpha, bl, br = _aggd(pair)
        mean = (br - bl) * torch.exp(torch.lgamma(2 / alpha) - torch.lgamma(1 / alpha))
        feats += [alpha, mean, bl, br]
    return torch.stack(feats, dim=1)


def _mscn(img: Tensor) -> tuple[Tensor, Tensor]:
    """MSCN coefficients and local deviation (7×7 Gaussian, σ = 7/6, replicate borders)."""
    coords = torch.arange(7, dtype=torch.float64) - 3
    g = torch.exp(-(coords**2) / (2 * (7 / 6) ** 2))
    win = torch.outer(g, g)
    win = (win / win.sum())[None, None].to(img.device)
    x = img[None, None]
    mu = F.conv2d(F.pad(x, (3, 3, 3, 3), mode="replicate"), win)
    sq = F.conv2d(F.pad(x * x, (3, 3, 3, 3), mode="replicate"), win)
    sigma = torch.sqrt((sq - mu * mu).abs())
    return ((x - mu) / (sigma + 1))[0, 0], sigma[0, 0]


def _luminance(image: Tensor, color: str, round_uint8: bool) -> Tensor:
    """``(B, H, W)`` luminance on the 0-255 scale from ``(B, C, H, W)`` in [0, 1]."""
    x = image.detach().to(torch.float64)
    if round_uint8:
        x = quantize_uint8(x)
    if x.shape[1] == 1:
        lum = x[:, 0] * 255.0
    elif color == "gray":  # MATLAB rgb2gray
        lum = (0.298936021293775 * x[:, 0] + 0.587043074451121 * x[:, 1] + 0.114020904255103 * x[:, 2]) * 255.0
    else:
        lum = rgb_to_y_bt601(x)[:, 0] * 255.0
    return torch.round(lum) if round_uint8 else lum


def _check_niqe_input(image: object, color: object, crop: object, round_uint8: object) -> tuple[Tensor, bool]:
    image = check_image(image, "image")
    single = image.ndim == 3
    if single:
        image = image[None]
    if image.shape[1] not in (1, 3):
        raise ValueError(f"image: expected 1 (luminance) or 3 (RGB) channels, got shape {tuple(image.shape)}")
    check_choice(color, "color", ("gray", "y"))
    check_bool(round_uint8, "round_uint8")
    return _crop_border(image, crop), single


def _features_and_sharpness(lum: Tensor, patch_size: int) -> tuple[Tensor, Tensor]:
    h, w = lum.shape
    rows, cols = h // patch_size, w // patch_size
    if rows * cols < 2:
        raise ValueError(
            f"image: NIQE needs at least two {patch_size}x{patch_size} patches, got a {h}x{w} image "
            f"(use a smaller patch_size only with a model fitted on that patch size)"
        )
    img = lum[: rows * patch_size, : cols * patch_size]
    feats = []
    sharpness = None
    for scale in (1, 2):
        mscn, sigma = _mscn(img)
        feats.append(_patch_features(mscn, patch_size // scale))
        if scale == 1:
            sharpness = sigma.unfold(0, patch_size, patch_size).unfold(1, patch_size, patch_size).mean(dim=(-1, -2))
        img = imresize_matlab(img, 0.5)
    assert sharpness is not None
    return torch.cat(feats, dim=1), sharpness.reshape(-1)


def niqe_features(
    image: Tensor, *, patch_size: int = 96, color: Literal["gray", "y"] = "gray", round_uint8: bool = True
) -> Tensor:
    """The 36 NIQE features of every ``patch_size`` patch of one image (MATLAB ``computequality.m``).

    The luminance (0-255) is cropped to whole patches. At two scales (full, then MATLAB-bicubic ½):
    MSCN coefficients (7×7 Gaussian σ = 7/6, replicate borders, ``(I-μ)/(σ+1)``), then per
    non-overlapping patch (``patch_size``, then ``patch_size/2``) an AGGD fit of the coefficients
    (shape, mean of the two scales) and of their products with the 4 neighbours (horizontal, vertical,
    two diagonals; shape, mean, left and right scale) — 18 features per scale.

    Args:
        image: ``(3, H, W)`` RGB or ``(1, H, W)`` luminance in ``[0, 1]``.
        patch_size: patch side at full scale (even).
        color: luminance of RGB input: ``"gray"`` (MATLAB ``rgb2gray``, as the reference NIQE) or
            ``"y"`` (BT.601 Y, as BasicSR's ``calculate_niqe``).
        round_uint8: quantise to 8 bits and round the luminance, as MATLAB does for uint8 images.

    Returns:
        ``(P, 36)`` float64 features, one row per patch (rows may hold NaN for flat patches).

    Raises:
        TypeError: if ``image`` is not a floating tensor or an option has the wrong type.
        ValueError: on a wrong shape, unknown ``color``, odd ``patch_size``, or fewer than two patches.
    """
    image = check_image(image, "image", batched=False)
    _check_patch_size(patch_size)
    image, _ = _check_niqe_input(image, color, 0, round_uint8)
    return _features_and_sharpness(_luminance(image, color, round_uint8)[0], patch_size)[0]


def _nan_mean_cov(feats: Tensor) -> tuple[Tensor, Tensor]:
    """Column means ignoring NaN and covariance over complete rows (MATLAB ``nanmean``/``nancov``)."""
    ok = torch.isfinite(feats).all(dim=1)
    f = feats[ok]
    if f.shape[0] < 2:
        raise ValueError(f"image: NIQE needs at least two patches with finite features, got {f.shape[0]}")
    return torch.nanmean(feats, dim=0), torch.cov(f.T)


def niqe(
    image: Tensor,
    model: NiqeModel | None = None,
    *,
    color: Literal["gray", "y"] = "gray",
    crop: int = 0,
    round_uint8: bool = True,
) -> Tensor:
    r"""Naturalness Image Quality Evaluator (lower is more natural), per image.

    $$\mathrm{NIQE} = \sqrt{(\mu_p - \mu_d)^\top \Big(\tfrac{\Sigma_p + \Sigma_d}{2}\Big)^{+} (\mu_p - \mu_d)}$$

    with $(\mu_p, \Sigma_p)$ the pristine model and $(\mu_d, \Sigma_d)$ the mean and covariance of the
    image's patch features (:func:`niqe_features`; patches with NaN features dropped), ``+`` the
    pseudo-inverse. Follows the authors' MATLAB ``computequality.m``; with ``color="y"`` it follows
    BasicSR's ``calculate_niqe`` instead.

    Args:
        image: ``(3, H, W)`` / ``(B, 3, H, W)`` RGB, or 1-channel luminance, in ``[0, 1]``; at least two
            patches (e.g. 96×192 for the standard model).
        model: pristine model; default :func:`load_niqe_model` (the authors' model, bundled).
        color: ``"gray"`` (MATLAB ``rgb2gray``) or ``"y"`` (BT.601 luma).
        crop: pixels removed from every border first.
        round_uint8: quantise to 8 bits and round the luminance first.

    Returns:
        float64 tensor ``(B,)`` (0-dim for one image).

    Raises:
        TypeError: if ``image`` is not a floating tensor or ``model`` not a :class:`NiqeModel`.
        ValueError: on a wrong shape, unknown ``color``, a crop that removes the image, or too few patches.
        FileNotFoundError: if ``model`` is ``None`` and ``STVSR_NIQE_PARAMS`` names a missing file.
    """
    image, single = _check_niqe_input(image, color, crop, round_uint8)
    if model is None:
        model = load_niqe_model()
    if not isinstance(model, NiqeModel):
        raise TypeError(f"model: expected a NiqeModel or None, got {type(model).__name__}")
    lum = _luminance(image, color, round_uint8)
    mu_p, cov_p = model.mu.to(torch.float64), model.cov.to(torch.float64)
    scores = []
    for b in range(lum.shape[0]):
        feats, _ = _features_and_sharpness(lum[b], model.patch_size)
        mu_d, cov_d = _nan_mean_cov(feats)
        d = (mu_p.to(lum.device) - mu_d)[:, None]
        inv = torch.linalg.pinv((cov_p.to(lum.device) + cov_d) / 2)
        scores.append(torch.sqrt((d.T @ inv @ d).clamp_min(0)).reshape(()))
    out = torch.stack(scores)
    return out[0] if single else out


def fit_niqe_model(
    images: Iterable[Tensor],
    *,
    patch_size: int = 96,
    sharpness_threshold: float = 0.75,
    color: Literal["gray", "y"] = "gray",
    round_uint8: bool = True,
) -> NiqeModel:
    """Fit a NIQE model to pristine images (the authors' ``estimatemodelparam.m``).

    From each image keep the patches whose mean local deviation $\\sigma$ (sharpness) exceeds
    ``sharpness_threshold`` × that image's sharpest patch, then fit a Gaussian (mean, covariance) to
    all kept 36-feature vectors.

    Args:
        images: iterable of ``(3, H, W)`` / ``(1, H, W)`` images (or ``(B, C, H, W)`` batches) in ``[0, 1]``.
        patch_size: patch side (even; 96 in the reference model).
        sharpness_threshold: relative sharpness cut in ``[0, 1]`` (0.75 in the reference).
        color: ``"gray"`` or ``"y"`` (see :func:`niqe`).
        round_uint8: quantise to 8 bits first.

    Returns:
        The fitted :class:`NiqeModel` (``source="fitted"``).

    Raises:
        TypeError: if an image is not a floating tensor or an option has the wrong type.
        ValueError: on a wrong shape, an invalid option, or fewer than two usable patches in total.
    """
    _check_patch_size(patch_size)
    sharpness_threshold = check_float_range(sharpness_threshold, "sharpness_threshold", 0.0, 1.0)
    kept = []
    for image in images:
        batch, _ = _check_niqe_input(image, color, 0, round_uint8)
        for lum in _luminance(batch, color, round_uint8):
            feats, sharp = _features_and_sharpness(lum, patch_size)
            kept.append(feats[sharp > sharpness_threshold * sharp.max()])
    if not kept:
        raise ValueError("images: expected at least one image")
    mu, cov = _nan_mean_cov(torch.cat(kept))
    return NiqeModel(mu=mu, cov=cov, patch_size=patch_size, source="fitted")
