"""Inference over arbitrarily large frames (spatial tiling) and long videos (temporal streaming).

- :func:`upscale_pair` runs an :class:`~stvsr_blocks.loop.InteractionLoop` on one LR pair, optionally
  in overlapping spatial tiles blended with linear ramps, so peak memory is bounded by the tile
  size rather than the frame size.
- :class:`StreamingUpscaler` consumes LR frames one at a time and yields HR frames in display order
  (``2N - 1`` for ``N`` inputs), keeping only the previous LR frame (and, for ``overlap="average"``,
  one pending HR frame) in memory, so peak memory does not grow with video length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from stvsr_blocks._check import check_positive_int, check_shape
from stvsr_blocks.loop import InteractionLoop

__all__ = [
    "use_channels_last", "keep_freed_memory", "TileConfig", "tile_starts", "upscale_pair", "StreamingUpscaler",
]


def keep_freed_memory(*, mmap_threshold_mb: int = 1024, trim_threshold_mb: int = 2047) -> bool:
    """Let glibc keep freed memory for reuse instead of returning it to the OS (CPU inference speed).

    A model call allocates and frees hundreds of MB of activations; glibc serves blocks above its
    mmap threshold (at most 32 MB by default) with fresh ``mmap`` pages that are zero-filled on first
    touch and unmapped on free, so every call pays page faults again. Raising the mmap threshold and
    the trim threshold (``mallopt``) keeps that memory in the heap, and the next call reuses it. The
    process's peak resident memory is about the same (the heap grows to the same peak); memory freed
    after a call is kept by the process instead of being returned to the OS until it exits.
    Measured on the shipped model at 640×272 on 2 cores: 1.7–1.9× faster, system time from about
    30 s to 1.5 s over four calls (``benchmarks/ab_speed.py --allocator head``). ``stvsr upscale`` and
    ``stvsr eval`` call it on the CPU; it changes a process-wide setting, so a library user opts in.

    Args:
        mmap_threshold_mb: blocks below this size come from the heap.
        trim_threshold_mb: free heap memory above this size is returned to the OS.

    Returns:
        ``True`` if the settings were applied (glibc), ``False`` elsewhere (other C libraries: a no-op).

    Example:
        >>> keep_freed_memory() in (True, False)
        True
    """
    import ctypes
    import ctypes.util
    import sys

    check_positive_int(mmap_threshold_mb, "mmap_threshold_mb")
    check_positive_int(trim_threshold_mb, "trim_threshold_mb")
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    mib = 1 << 20
    ok = mallopt(m_mmap_threshold, min(mmap_threshold_mb * mib, 2**31 - 1))
    ok = mallopt(m_trim_threshold, min(trim_threshold_mb * mib, 2**31 - 1)) and ok
    return bool(ok)


@dataclass(frozen=True)
class TileConfig:
    """Spatial tiling options (LR pixels).

    Attributes:
        tile: LR tile side (``0`` disables tiling: the whole frame at once).
        overlap: LR overlap between neighbouring tiles, blended with linear ramps at HR.
        batch: number of tiles run through the model at once.
    """

    tile: int = 0
    overlap: int = 8
    batch: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.tile, int) or self.tile < 0:
            raise ValueError(f"tile: expected an int >= 0, got {self.tile!r}")
        if not isinstance(self.overlap, int) or self.overlap < 0:
            raise ValueError(f"overlap: expected an int >= 0, got {self.overlap!r}")
        if self.tile and self.overlap * 2 >= self.tile:
            raise ValueError(f"overlap: must be < tile/2 (tile={self.tile}), got {self.overlap}")
        check_positive_int(self.batch, "batch")


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)`` with at least ``overlap`` overlap.

    Args:
        length: size of the axis.
        tile: tile size.
        overlap: minimum overlap between consecutive tiles.

    Returns:
        Sorted start offsets; the last tile ends exactly at ``length``.

    Example:
        >>> tile_starts(100, 40, 8)
        [0, 32, 60]
    """
    if tile >= length:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    return sorted(set(starts))


def _ramp(n: int, left: int, right: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """1-D blending weight over a tile side of ``n`` samples.

    On a side that overlaps a neighbour by ``k`` samples, the outer ``k // 2`` samples (the halo,
    where the tile lacks context) get weight 0 and the inner ``k - k // 2`` ramp up linearly to 1.
    """
    w = torch.ones(n, device=device, dtype=dtype)
    for k, side in ((left, "l"), (right, "r")):
        if not k:
            continue
        halo, r = k // 2, k - k // 2
        ramp = torch.cat((torch.zeros(halo, device=device, dtype=dtype),
                          torch.arange(1, r + 1, device=device, dtype=dtype) / (r + 1)))
        if side == "l":
            w[:k] = torch.minimum(w[:k], ramp)
        else:
            w[n - k:] = torch.minimum(w[n - k:], ramp.flip(0))
    return w


def use_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Put a model's weights in ``channels_last`` memory format for inference (in place).

    :func:`upscale_pair` then feeds it ``channels_last`` inputs. On the 2-core development CPU this made the
    shipped model 1.8× faster at 640×272 (``benchmarks/bench_shipped_speed.py --memory-format both``), with
    outputs within 5e-5 of the contiguous path. A model without parameters is returned unchanged.

    Args:
        model: the model.

    Returns:
        The same model, with ``model.channels_last = True`` when it has parameters.
    """
    if any(True for _ in model.parameters()):
        model.to(memory_format=torch.channels_last)
        model.channels_last = True
    return model


def _call(loop: InteractionLoop, lr0: Tensor, lr1: Tensor, t: float | None):
    if getattr(loop, "channels_last", False):
        lr0 = lr0.contiguous(memory_format=torch.channels_last)
        lr1 = lr1.contiguous(memory_format=torch.channels_last)
    out = loop(lr0, lr1) if t is None else loop(lr0, lr1, t=t)
    return out


@torch.inference_mode()
def upscale_pair(loop: InteractionLoop, lr0: Tensor, lr1: Tensor, tiles: TileConfig | None = None, *,
                 t: float | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Upscale one LR pair to ``(SR_{t-1}, SR_t, SR_{t+1})``, optionally tile by tile.

    With tiling, each LR tile (plus its overlap) is processed independently. In each overlap the
    outer half of a tile (where it lacks context) is discarded and the inner half is blended with
    a linear ramp, so seams are not visible and the result equals the untiled output once half
    the overlap exceeds the model's receptive field.

    Args:
        loop: the model (put it in ``eval()`` mode first).
        lr0: ``(B, 3, h, w)`` LR frame ``t-1``.
        lr1: ``(B, 3, h, w)`` LR frame ``t+1``.
        tiles: tiling options; ``None`` or ``tile=0`` runs the whole frame.
        t: time of the synthesised frame (``None``: the model's own, 0.5 for the presets).

    Returns:
        Three ``(B, 3, s*h, s*w)`` frames.

    Raises:
        ValueError: on wrong shapes.

    Example:
        >>> from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
        >>> loop = InteractionLoop(flow=ZeroFlowEstimator(), vsr=BicubicVSR(), vfi=LinearBlendVFI(), feature=None)
        >>> a, b = torch.rand(1, 3, 20, 20), torch.rand(1, 3, 20, 20)
        >>> out = upscale_pair(loop, a, b, TileConfig(tile=12, overlap=4))
        >>> tuple(out[1].shape)
        (1, 3, 80, 80)
    """
    check_shape(lr0, ["B", 3, "h", "w"], "lr0")
    check_shape(lr1, ["B", 3, "h", "w"], "lr1")
    if lr0.shape != lr1.shape:
        raise ValueError(f"lr0 and lr1 must have the same shape, got {tuple(lr0.shape)} and {tuple(lr1.shape)}")
    tiles = tiles or TileConfig()
    b, _, h, w = lr0.shape
    if not tiles.tile or (tiles.tile >= h and tiles.tile >= w):
        return _call(loop, lr0, lr1, t).frames
    s = loop.scale
    size = tiles.tile
    ys, xs = tile_starts(h, size, tiles.overlap), tile_starts(w, size, tiles.overlap)
    th, tw = min(size, h), min(size, w)
    out = lr0.new_zeros(3, b, 3, h * s, w * s)
    norm = lr0.new_zeros(1, 1, 1, h * s, w * s)
    boxes = [(y, x) for y in ys for x in xs]
    for i in range(0, len(boxes), tiles.batch):
        chunk = boxes[i:i + tiles.batch]
        a = torch.cat([lr0[..., y:y + th, x:x + tw] for y, x in chunk])
        c = torch.cat([lr1[..., y:y + th, x:x + tw] for y, x in chunk])
        frames = torch.stack(_call(loop, a, c, t).frames)  # (3, len(chunk)*B, 3, th*s, tw*s)
        for j, (y, x) in enumerate(chunk):
            # ramp only on sides that touch another tile
            oy_top = (tiles.overlap * s) if y > 0 else 0
            oy_bot = (tiles.overlap * s) if y + th < h else 0
            ox_l = (tiles.overlap * s) if x > 0 else 0
            ox_r = (tiles.overlap * s) if x + tw < w else 0
            wy = _ramp(th * s, oy_top, oy_bot, lr0.device, lr0.dtype)
            wx = _ramp(tw * s, ox_l, ox_r, lr0.device, lr0.dtype)
            wgt = wy[:, None] * wx[None, :]
            sl = (..., slice(y * s, (y + th) * s), slice(x * s, (x + tw) * s))
            out[sl] += frames[:, j * b:(j + 1) * b] * wgt
            norm[sl] += wgt
    out.div_(norm.clamp_min_(1e-12))  # in place: the HR accumulator is the largest buffer
    return out[0], out[1], out[2]


class StreamingUpscaler:
    """Streams a video through the model: LR frames in, HR frames out, constant memory.

    For ``N`` LR frames it yields ``2N - 1`` HR frames ``SR_0, SR_0.5, SR_1, ..., SR_{N-1}`` in
    order (``time_factor=k``: ``k (N - 1) + 1`` frames, ``k - 1`` synthesised at ``t = j/k`` between each
    pair; the first window computes ``t = 1/k`` with the endpoints, each further time one more model
    call). Window ``i`` processes LR frames ``(i, i+1)``. Inner LR frames are super-resolved by
    two windows; ``overlap="first"`` yields the first window's result as soon as it is ready
    (the evaluation protocol's choice), ``"average"`` waits one window and averages both.

    Args:
        loop: the model (in ``eval()`` mode).
        tiles: spatial tiling options for each window.
        overlap: ``"first"`` or ``"average"``.
        time_factor: frame-rate multiplier ``k >= 2``.

    Raises:
        ValueError: on an unknown ``overlap`` or ``time_factor < 2``.

    Example:
        >>> from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
        >>> loop = InteractionLoop(flow=ZeroFlowEstimator(), vsr=BicubicVSR(), vfi=LinearBlendVFI(), feature=None)
        >>> frames = [torch.rand(3, 8, 8) for _ in range(4)]
        >>> len(list(StreamingUpscaler(loop).run(frames)))
        7
    """

    def __init__(self, loop: InteractionLoop, tiles: TileConfig | None = None,
                 overlap: Literal["first", "average"] = "first", time_factor: int = 2) -> None:
        if overlap not in ("first", "average"):
            raise ValueError(f"overlap: expected 'first' or 'average', got {overlap!r}")
        if isinstance(time_factor, bool) or not isinstance(time_factor, int) or time_factor < 2:
            raise ValueError(f"time_factor: expected an int >= 2, got {time_factor!r}")
        self.time_factor = time_factor
        self.loop = loop
        self.tiles = tiles or TileConfig()
        self.overlap = overlap

    def run(self, frames: Iterable[Tensor]) -> Iterator[Tensor]:
        """Yield HR frames for an iterable of LR frames.

        Args:
            frames: LR frames ``(3, h, w)`` in ``[0, 1]`` (all the same size), e.g. a generator
                reading a video file.

        Yields:
            HR frames ``(3, s*h, s*w)`` in display order.

        Raises:
            ValueError: if a frame has the wrong shape or differs in size from the first; or if
                fewer than 2 frames arrive.
        """
        prev: Tensor | None = None
        pending: Tensor | None = None  # SR of the previous window's frame 1 (average mode)
        count = 0
        for idx, frame in enumerate(frames):
            check_shape(frame, [3, "h", "w"], f"frames[{idx}]")
            if prev is not None and frame.shape != prev.shape:
                raise ValueError(
                    f"frames[{idx}]: expected the size of the first frame {tuple(prev.shape)}, got {tuple(frame.shape)}"
                )
            if prev is None:
                prev = frame
                count = 1
                continue
            k = self.time_factor
            sr0, mid, sr1 = upscale_pair(self.loop, prev[None], frame[None], self.tiles,
                                         t=None if k == 2 else 1.0 / k)
            if count == 1:
                yield sr0[0]
            elif self.overlap == "average":
                yield 0.5 * (pending + sr0[0])
            yield mid[0]
            for j in range(2, k):
                yield upscale_pair(self.loop, prev[None], frame[None], self.tiles, t=j / k)[1][0]
            if self.overlap == "first":
                yield sr1[0]
            else:
                pending = sr1[0]
            prev = frame
            count += 1
        if count < 2:
            raise ValueError(f"frames: need at least 2 frames, got {count}")
        if self.overlap == "average" and pending is not None:
            yield pending
