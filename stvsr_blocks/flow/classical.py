r"""A parameter-free classical optical-flow estimator: the motion model of the "bicubic + flow warp" baseline.

:class:`ClassicalFlowEstimator` is a coarse-to-fine *combined local-global* (CLG) method (Bruhn,
Weickert and Schnörr, IJCV 2005): Horn–Schunck's global smoothness with a Lucas–Kanade-style
Gaussian-windowed data term, solved by Jacobi iterations on an image pyramid with warping, written
in pure, vectorised torch. It needs no training and no weights, so a baseline built on it is fully
reproducible.

For a source frame $I_s$ and a target frame $I_t$ it estimates the backward flow $F$ on $I_t$'s
grid with $I_s(p + F(p)) \approx I_t(p)$ (the library convention, ``flow_{s->t}``). At each level
and warp it linearises $I_s$ around the current flow $F_0$ and minimises

$$E(F) = \sum_p \big[K_\rho * (I_x \, \delta u + I_y \, \delta v + I_t)^2\big](p)
   + \alpha \sum_p \big(|\nabla u|^2 + |\nabla v|^2\big), \qquad (\delta u, \delta v) = F - F_0,$$

on luma (ITU-R BT.601, $Y = 0.299R + 0.587G + 0.114B$) normalised per frame pair to zero mean and
unit variance, so ``smoothness`` does not depend on the image contrast. Samples that fall outside the
source frame are excluded from the data term (the smoothness term fills them in), and a 3×3 median
filter is applied to the flow after every warp. Both directions are estimated in one batch.

**Accuracy** (measured with the default settings on 64×64 RGB images made of random sinusoids,
frames rendered analytically so sub-pixel motion is exact; end-point error (EPE) over the interior
8 px inside the border, averaged over 3 images; "warp gain" is the mean absolute photometric error
without warping divided by the error of ``backward_warp(frame0, flow_0to1)`` against ``frame1``):

| motion | median EPE | mean EPE | warp gain |
|---|---|---|---|
| translation (+1.5, −0.75) px | 0.050 px | 0.053 px | 19× |
| translation (+3, +2) px | 0.007 px | 0.010 px | 349× |
| translation (+6.5, −4) px | 0.034 px | 0.039 px | 77× |
| smooth non-rigid flow, up to 2 px | 0.080 px | 0.094 px | 11× |
| no motion | 0.000 px | 0.000 px | — |

Half-pixel motions are the least accurate because bilinear warping blurs most there. It is a
baseline, not a competitor of learned estimators: like every variational method with a quadratic
penalty it blurs motion boundaries, and it degrades on large displacements of small objects,
occlusions and illumination changes. Cost: about 40 ms of CPU time on one thread for a 64×64 pair
(both directions), linear in the number of pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from stvsr_blocks._check import check_float_range, check_positive_int, check_shape
from stvsr_blocks.interfaces import FlowEstimator, FlowPyramid
from stvsr_blocks.ops.flow import resize_flow
from stvsr_blocks.ops.warp import backward_warp, base_grid

__all__ = ["ClassicalFlowEstimator", "rgb_to_luma"]

_LUMA = (0.299, 0.587, 0.114)


def rgb_to_luma(image: Tensor) -> Tensor:
    r"""ITU-R BT.601 luma of an RGB image: $Y = 0.299R + 0.587G + 0.114B$ (same range as the input).

    Args:
        image: ``(B, 3, H, W)`` RGB image.

    Returns:
        ``(B, 1, H, W)`` luma.

    Raises:
        TypeError: if ``image`` is not a floating tensor.
        ValueError: if ``image`` is not ``(B, 3, H, W)``.

    Example:
        >>> rgb_to_luma(torch.ones(1, 3, 2, 2))[0, 0, 0, 0].item()
        1.0
    """
    check_shape(image, ["B", 3, "H", "W"], "image")
    w = image.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (image * w).sum(dim=1, keepdim=True)


def _gaussian_kernel1d(sigma: float) -> list[float]:
    radius = max(1, int(math.ceil(2.0 * sigma)))
    k = [math.exp(-0.5 * (i / sigma) ** 2) for i in range(-radius, radius + 1)]
    total = sum(k)
    return [v / total for v in k]


def _replicate_pad(x: Tensor, r: int, dim: int) -> Tensor:
    """Edge-replicate ``r`` samples on both ends of ``dim`` (a gather; cheaper than ``F.pad`` here)."""
    n = x.shape[dim]
    idx = torch.arange(-r, n + r, device=x.device).clamp_(0, n - 1)
    return x.index_select(dim, idx)


def _filter1d(x: Tensor, kernel: list[float], dim: int) -> Tensor:
    """Correlate ``x`` with the 1-D ``kernel`` along ``dim`` (-1: x, -2: y), edge-replicated.

    Written as a weighted sum of shifted slices: for the tiny one-channel images of a flow pyramid
    this is much faster on CPU than ``conv2d``.
    """
    r = len(kernel) // 2
    n = x.shape[dim]
    p = _replicate_pad(x, r, dim)
    out = p.narrow(dim, 0, n) * kernel[0]
    for i in range(1, len(kernel)):
        if kernel[i] != 0:
            out = out + p.narrow(dim, i, n) * kernel[i]
    return out


def _separable(x: Tensor, kernel: list[float]) -> Tensor:
    """Filter every channel of ``x`` with ``kernel`` along y then x, edge-replicated."""
    return _filter1d(_filter1d(x, kernel, -2), kernel, -1)


def _gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    """Fourth-order central differences ``[1, -8, 0, 8, -1] / 12`` along x and y, edge-replicated."""
    k = [1.0 / 12.0, -8.0 / 12.0, 0.0, 8.0 / 12.0, -1.0 / 12.0]
    return _filter1d(x, k, -1), _filter1d(x, k, -2)


def _neighbour_sum(flow: Tensor) -> Tensor:
    """Sum of the 4 neighbours, zero outside the image."""
    p = F.pad(flow, (1, 1, 1, 1))
    return p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]


# Compare-exchange pairs of a 19-step median-of-9 sorting network (after "opt_med9", Paeth/Devillard).
_MED9 = (
    (1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
    (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2),
)


def _median3x3(flow: Tensor) -> Tensor:
    """Exact 3x3 median filter (edge-replicated) by an elementwise min/max sorting network."""
    h, w = flow.shape[-2:]
    p = _replicate_pad(_replicate_pad(flow, 1, -2), 1, -1)
    v = [p[..., i : i + h, j : j + w] for i in range(3) for j in range(3)]
    for a, b in _MED9:
        v[a], v[b] = torch.minimum(v[a], v[b]), torch.maximum(v[a], v[b])
    return v[4]


class ClassicalFlowEstimator(FlowEstimator):
    r"""Parameter-free coarse-to-fine CLG (Lucas–Kanade data term + Horn–Schunck smoothness) optical flow.

    See the module documentation for the energy, the accuracy figures and the limitations. The
    pyramid halves the resolution (antialiased bilinear) ``levels - 1`` times, stopping before a
    side would drop below ``min_size``; each level runs ``warps`` linearisations of
    ``iterations`` Jacobi sweeps. All counts are fixed, so the run time depends only on the size.

    Args:
        levels: maximum number of pyramid levels (1 = single resolution). Each level doubles the
            largest displacement that can be recovered (about 2 px at the coarsest level).
        warps: warping (re-linearisation) steps per level.
        iterations: Jacobi sweeps per warp.
        smoothness: $\alpha$, the weight of the smoothness term relative to the data term of
            contrast-normalised luma; larger values give smoother flows.
        window_sigma: standard deviation in pixels of the Gaussian window $K_\rho$ of the data term
            (0 gives a pure Horn–Schunck data term).
        min_size: smallest side, in pixels, of the coarsest pyramid level.

    Raises:
        TypeError: if a count is not an int or a float argument is not a number.
        ValueError: if a count is < 1 or a float argument is out of range.

    Example:
        >>> est = ClassicalFlowEstimator()
        >>> x = torch.rand(1, 3, 32, 32)
        >>> out = est(x, x)
        >>> out.flow_0to1.shape, len(out.levels), out.flow_0to1.abs().max().item() < 1e-3
        (torch.Size([1, 2, 32, 32]), 3, True)
    """

    def __init__(
        self,
        levels: int = 4,
        warps: int = 3,
        iterations: int = 30,
        smoothness: float = 0.05,
        window_sigma: float = 1.0,
        min_size: int = 8,
    ) -> None:
        super().__init__()
        self.levels = check_positive_int(levels, "levels")
        self.warps = check_positive_int(warps, "warps")
        self.iterations = check_positive_int(iterations, "iterations")
        self.smoothness = check_float_range(smoothness, "smoothness", 1e-6, 1e6)
        self.window_sigma = check_float_range(window_sigma, "window_sigma", 0.0, 16.0)
        self.min_size = check_positive_int(min_size, "min_size")

    def extra_repr(self) -> str:
        """Summary shown by ``print(estimator)``.

        Returns:
            The settings.
        """
        return (
            f"levels={self.levels}, warps={self.warps}, iterations={self.iterations}, "
            f"smoothness={self.smoothness}, window_sigma={self.window_sigma}, min_size={self.min_size}"
        )

    def _pyramid_sizes(self, h: int, w: int) -> list[tuple[int, int]]:
        sizes = [(h, w)]
        while len(sizes) < self.levels:
            ph, pw = sizes[-1]
            nh, nw = (ph + 1) // 2, (pw + 1) // 2
            if min(nh, nw) < self.min_size:
                break
            sizes.append((nh, nw))
        return sizes[::-1]  # coarse to fine

    def _refine(self, source: Tensor, target: Tensor, flow: Tensor) -> Tensor:
        """Warps + Jacobi sweeps at one level. ``source``/``target``: (N, 1, h, w); flow: (N, 2, h, w)."""
        alpha = self.smoothness
        h, w = target.shape[-2:]
        window = _gaussian_kernel1d(self.window_sigma) if self.window_sigma > 0 else None
        grid = base_grid(h, w, device=target.device, dtype=target.dtype)
        # Zero-padded 4-neighbour sums divided by the neighbour count give the Neumann (edge) boundary
        # mean of Horn-Schunck's Jacobi step.
        count = _neighbour_sum(target.new_ones(1, 1, h, w))
        tgx, tgy = _gradients(target)
        for _ in range(self.warps):
            warped = backward_warp(source, flow)
            sgx, sgy = _gradients(warped)
            ix, iy = 0.5 * (sgx + tgx), 0.5 * (sgy + tgy)
            it = warped - target
            pos = grid + flow
            inside = (
                (pos[:, 0:1] >= 0) & (pos[:, 0:1] <= w - 1) & (pos[:, 1:2] >= 0) & (pos[:, 1:2] <= h - 1)
            ).to(target.dtype)
            # Structure tensor entries of the linearised data term, windowed by K_rho (filtered one
            # by one: small tensors stay below torch's intra-op parallelism threshold).
            ixm, iym = ix * inside, iy * inside
            terms = [ixm * ix, ixm * iy, iym * iy, ixm * it, iym * it]
            if window is not None:
                terms = [_separable(t, window) for t in terms]
            j11, j12, j22, j13, j23 = terms
            # Per pixel, the Jacobi step solves [[j11+a, j12], [j12, j22+a]] d = a*(mean(F) - F0) - [j13, j23]
            # for d = F_new - F0; written as F_new = diag * mean(F) + off * swap(mean(F)) + const.
            a11, a22 = j11 + alpha, j22 + alpha
            det = a11 * a22 - j12 * j12
            i11, i22, i12 = a22 / det, a11 / det, -j12 / det
            diag = torch.cat((i11, i22), dim=1) * alpha
            off = torch.cat((i12, i12), dim=1) * alpha
            rhs = torch.cat((j13, j23), dim=1)
            const = flow - diag * flow - off * flow.flip(1) - (diag * rhs + off * rhs.flip(1)) / alpha
            diag, off = diag / count, off / count
            u = flow
            for _ in range(self.iterations):
                nsum = _neighbour_sum(u)
                u = torch.addcmul(torch.addcmul(const, diag, nsum), off, nsum.flip(1))
            flow = _median3x3(u)
        return flow

    def forward(self, frame0: Tensor, frame1: Tensor) -> FlowPyramid:
        """Estimate ``flow_0to1`` and ``flow_1to0`` coarse to fine.

        Args:
            frame0: ``(B, 3, h, w)`` first frame in ``[0, 1]``.
            frame1: ``(B, 3, h, w)`` second frame in ``[0, 1]``.

        Returns:
            A :class:`~stvsr_blocks.interfaces.FlowPyramid` in the frames' dtype whose ``levels``
            hold every pyramid level's flows, coarse to fine, in pixels of that level.

        Raises:
            TypeError: if a frame is not a floating tensor or the dtypes differ.
            ValueError: if a frame is not ``(B, 3, h, w)`` or the shapes or devices differ.
        """
        check_shape(frame0, ["B", 3, "H", "W"], "frame0")
        check_shape(frame1, ["B", 3, "H", "W"], "frame1")
        if frame0.shape != frame1.shape:
            raise ValueError(
                f"frame0 and frame1 must have the same shape: got {tuple(frame0.shape)} and {tuple(frame1.shape)}"
            )
        if frame0.dtype != frame1.dtype:
            raise TypeError(f"frame0 and frame1 must have the same dtype: got {frame0.dtype} and {frame1.dtype}")
        if frame0.device != frame1.device:
            raise ValueError(f"frame0 and frame1 must be on the same device: got {frame0.device} and {frame1.device}")
        out_dtype = frame0.dtype
        work = out_dtype if out_dtype in (torch.float32, torch.float64) else torch.float32
        b, _, h, w = frame0.shape
        y0 = rgb_to_luma(frame0.to(work))
        y1 = rgb_to_luma(frame1.to(work))
        both = torch.cat((y0, y1), dim=1)
        mean = both.mean(dim=(1, 2, 3), keepdim=True)
        std = both.std(dim=(1, 2, 3), keepdim=True) if both[0].numel() > 1 else torch.ones_like(mean)
        y0, y1 = (y0 - mean) / (std + 1e-3), (y1 - mean) / (std + 1e-3)
        # Batch both directions: sources (frame0, frame1) warped onto targets (frame1, frame0).
        source = torch.cat((y0, y1), dim=0)
        target = torch.cat((y1, y0), dim=0)
        smooth = _gaussian_kernel1d(1.0)
        sizes = self._pyramid_sizes(h, w)
        flow = None
        levels: list[tuple[Tensor, Tensor]] = []
        for lh, lw in sizes:
            if (lh, lw) == (h, w):
                src, tgt = source, target
            else:
                src = F.interpolate(source, size=(lh, lw), mode="bilinear", align_corners=False, antialias=True)
                tgt = F.interpolate(target, size=(lh, lw), mode="bilinear", align_corners=False, antialias=True)
            src, tgt = _separable(src, smooth), _separable(tgt, smooth)
            if flow is None:
                flow = src.new_zeros(2 * b, 2, lh, lw)
            else:
                flow = resize_flow(flow, size=(lh, lw))
            flow = self._refine(src, tgt, flow)
            f01, f10 = flow.to(out_dtype).chunk(2, dim=0)
            levels.append((f01, f10))
        return FlowPyramid(levels[-1][0], levels[-1][1], tuple(levels))
