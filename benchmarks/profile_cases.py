"""Where the time of ``stvsr upscale`` and ``stvsr eval`` goes: cases of ``benchmarks/run.py`` (group ``profile``).

- ``profile.upscale``: :func:`~stvsr_blocks.recipe.upscale.upscale_video` of a generated H.264 clip with
  the shipped model; the split is the command's own :attr:`UpscaleResult.timings` (load, decode,
  model, encode). Both cases call :func:`~stvsr_blocks.inference.keep_freed_memory` first, as the
  ``stvsr upscale`` / ``stvsr eval`` commands do on the CPU.
- ``profile.eval``: :func:`~stvsr_blocks.recipe.evaluate.evaluate_models` of ``bicubic-flow`` on a
  generated clip opened through the ``video`` layout, with timed wrappers around its phases: reading
  the clip (decode), making the LR frames (degrade), the model calls (model) and scoring (metrics);
  plus the process's peak memory (the eval of a 720p clip must stay under 4 GB).

The clips are smooth moving gradients with noise texture, encoded at CRF 12 (content does not change
the cost of these paths; only sizes and frame counts do).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common as C
import torch


def _clip(n: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    ys = torch.linspace(0, 1, h)[:, None]
    xs = torch.linspace(0, 1, w)[None, :]
    noise = torch.rand(3, h, w, generator=g) * 0.2
    frames = [torch.stack([0.3 + 0.5 * ((xs + 0.02 * t) % 1).expand(h, w), 0.2 + 0.6 * ys.expand(h, w),
                           torch.full((h, w), 0.4)]) + torch.roll(noise, shifts=2 * t, dims=-1) for t in range(n)]
    return torch.stack(frames).clamp(0, 1)


def _write_video(path: Path, n: int, h: int, w: int) -> Path:
    from stvsr_blocks.data.video import VideoWriter

    with VideoWriter(path, fps=25, crf=12) as wr:
        wr.write(_clip(n, h, w))
    return path


def _shares(timings: dict[str, float], total: float) -> dict[str, float]:
    return {k: round(v / total, 4) for k, v in timings.items()} if total > 0 else {}


def upscale_profile(lr: tuple[int, int], frames: int, model: str = "mbnet-photo") -> Callable[[Any], dict[str, Any]]:
    """Case: ``upscale_video`` of a generated ``frames``-frame clip at LR size ``lr`` with ``model``.

    Args:
        lr: input ``(height, width)``.
        frames: input frames (``2·frames − 1`` are written).
        model: model spec.

    Returns:
        The case function.
    """

    def run(ctx: Any) -> dict[str, Any]:
        from stvsr_blocks.inference import keep_freed_memory
        from stvsr_blocks.recipe.upscale import upscale_video

        keep_freed_memory()  # as the stvsr upscale command does on the CPU

        with tempfile.TemporaryDirectory() as tmp:
            src = _write_video(Path(tmp) / "in.mp4", frames, *lr)
            meter = C.PeakMemory(ctx.device)
            meter.start()
            res = upscale_video(src, Path(tmp) / "out.mp4", model=model, device=ctx.device, progress=False,
                                audio=False)
            mem = meter.stop()
        return {"model": model, "lr_size": list(lr), "hr_size": [res.height, res.width], "frames_in": res.frames_in,
                "frames_out": res.frames_out, "median_s": res.seconds, "times_s": [res.seconds],
                "output_frames_per_s": res.frames_out / res.seconds, "timings_s": res.timings,
                "shares": _shares(res.timings, res.seconds), **mem}

    return run


class _Phases:
    """Timed wrappers: ``wrap(name, fn)`` adds the seconds of every call of ``fn`` to ``spent[name]``."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        self.spent.setdefault(name, 0.0)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[name] += time.perf_counter() - t

        return timed


def eval_profile(hr: tuple[int, int], frames: int, model: str = "bicubic-flow") -> Callable[[Any], dict[str, Any]]:
    """Case: ``evaluate_models`` of ``model`` on a generated ``frames``-frame clip at HR size ``hr``.

    Args:
        hr: ground-truth ``(height, width)`` (the LR input is made by the protocol's degradation).
        frames: frames of the clip.
        model: model spec.

    Returns:
        The case function.
    """

    def run(ctx: Any) -> dict[str, Any]:
        from stvsr_blocks.inference import keep_freed_memory
        from stvsr_blocks.metrics import get_protocol
        from stvsr_blocks.recipe import evaluate as ev
        from stvsr_blocks.recipe._runtime import timed as time_each

        keep_freed_memory()  # as the stvsr eval command does on the CPU
        ph = _Phases()
        ph.spent["decode"] = 0.0
        saved = {name: getattr(ev, name) for name in ("_lr_frames", "upscale_pair", "score_frame")}
        for name, phase in (("_lr_frames", "degrade"), ("upscale_pair", "model"), ("score_frame", "metrics")):
            setattr(ev, name, ph.wrap(phase, saved[name]))
        try:
            with tempfile.TemporaryDirectory() as tmp:
                src = _write_video(Path(tmp) / "clip.mp4", frames, *hr)
                protocol = get_protocol("stvsr-vid4")  # the default protocol of the video layout
                m = ev.load_model(model, device=ctx.device)
                meter = C.PeakMemory(ctx.device)
                meter.start()
                t0 = time.perf_counter()
                _, clips = ev.iter_clips("video", src)
                scores = ev.evaluate_models({model: m}, time_each(clips, ph.spent, "decode"), protocol, device=ctx.device)
                total = time.perf_counter() - t0
                mem = meter.stop()
        finally:
            for name, fn in saved.items():
                setattr(ev, name, fn)
        timings = {k: round(v, 4) for k, v in ph.spent.items()}
        timings["other"] = round(max(0.0, total - sum(ph.spent.values())), 4)
        summary = scores[model].accumulator.summary()
        return {"model": model, "hr_size": list(hr), "frames": frames, "protocol": protocol.name,
                "median_s": total, "times_s": [total], "timings_s": timings, "shares": _shares(timings, total),
                "frames_per_s": frames / total, "scores": summary.groups.get("all"), **mem}

    return run


