"""Evaluate a checkpoint or a baseline on a dataset layout with a protocol preset.

Examples::

    python recipes/mbnet.py eval --model bicubic-blend --layout synthetic --limit 4
    python recipes/mbnet.py eval --model runs/tiny/final --layout vid4 --root data/Vid4 --protocol stvsr-vid4
    python recipes/mbnet.py eval --model bicubic-flow --model runs/tiny/final \\
        --layout vimeo-septuplet --root data/vimeo_septuplet --split test --limit 100 --out outputs/eval/vimeo

**What is fed and what is scored.** Let the clip hold ``T`` HR frames ``0..T-1`` (cropped to a
multiple of the scale, top-left anchored).

* STVSR protocols (``task="stvsr"``): the LR/LFR input is the odd HR frames (1st, 3rd, ...: 0-based
  ``0, 2, 4, ...``) downscaled with the protocol's kernel (MATLAB bicubic by default). Window ``i``
  feeds LR frames ``(2i, 2i+2)`` and yields HR frames ``2i, 2i+1, 2i+2``; windows share endpoints and
  every GT frame is scored once: with ``--overlap first`` (default, the usual scripts) an inner LR
  frame's SR comes from the first window that produces it (window ``i-1``); with ``average`` it is
  the mean of both windows' results. Frames with an LR input are scored in the group ``vsr``, the
  interpolated ones in ``vfi``, and all together in ``all``.
* Even-length tail: for even ``T`` the last HR frame ``T-1`` has no right LR neighbour. An extra
  window feeds ``(LR_{T-2}, LR_{T-1})`` with ``LR_{T-1}`` downscaled from HR frame ``T-1`` itself;
  its last output is scored as a ``vsr`` frame, its other outputs are discarded (frame ``T-2`` was
  already scored; the middle, at time ``T-1.5``, has no ground truth). ``T = 2`` is one such window
  scoring both frames as ``vsr``.
* VFI protocols (``task="vfi"``, UCF101 triplets, Middlebury): the models here are space-time models,
  so the two endpoint frames are fed at LR — downscaled ×``s`` (the model's scale) with the
  protocol's kernel, MATLAB bicubic when the preset names none — and only the interpolated middle
  frame (×``s`` output vs. the full-resolution GT middle) is scored, in group ``vfi``. These numbers
  measure interpolation *and* ×``s`` SR together and are not comparable with full-resolution VFI
  tables. For longer clips every odd frame between two fed frames is scored the same way.
* Inputs whose size is not a multiple of the model's ``size_multiple`` are padded and cropped back
  by the model; ``--tile`` processes each window in overlapping spatial tiles.

PSNR and SSIM are computed on Y (BT.601) **and** RGB for every frame (with the protocol's rounding
and border crop; ``ie`` too when the protocol lists it), averaged per clip then over clips. ``--niqe``
adds the no-reference NIQE of every output frame (the authors' pristine model, bundled; lower is more
natural; frames must hold two 96×96 patches after the crop, e.g. 96×192). The JSON
records the protocol, the LR kernel actually used, the window rule, the model name/parameters/weights
hash and the library version.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from stvsr_blocks._check import arg_nonneg_int
from stvsr_blocks.baselines import FFmpegBaseline
from stvsr_blocks.data.degrade import Degradation, crop_to_multiple
from stvsr_blocks.inference import TileConfig, keep_freed_memory, upscale_pair
from stvsr_blocks.metrics import (
    PROTOCOLS,
    EvalProtocol,
    MetricAccumulator,
    get_protocol,
    interpolation_error,
    niqe,
    psnr,
    ssim,
)
from stvsr_blocks.models import bicubic_blend, bicubic_flow, count_parameters, load_pretrained
from stvsr_blocks.pretrained import sha256_file
from stvsr_blocks.recipe import report

__all__ = [
    "BASELINES",
    "DATASET_LAYOUTS",
    "DEFAULT_PROTOCOL",
    "UserError",
    "Window",
    "EvalClip",
    "ModelScores",
    "plan_windows",
    "load_model",
    "model_info",
    "iter_clips",
    "score_frame",
    "evaluate_models",
    "write_report",
    "result_entry",
    "protocol_dict",
    "run_evaluation",
    "add_arguments",
    "main",
]

#: Non-learned baselines accepted wherever a model is expected (name -> builder taking ``scale``).
BASELINES: dict[str, Callable[[int], nn.Module]] = {
    "bicubic-blend": bicubic_blend, "bicubic-flow": bicubic_flow, "ffmpeg": lambda scale: FFmpegBaseline(scale),
}

#: Kept for old imports; computed from the layout registry on every access (module
#: ``__getattr__``): the registered layout names, and layout name -> default protocol.
DATASET_LAYOUTS: tuple[str, ...]
DEFAULT_PROTOCOL: dict[str, str]


def __getattr__(name: str) -> Any:
    """``DATASET_LAYOUTS`` (the names of :data:`~stvsr_blocks.data.layouts.LAYOUTS`) and ``DEFAULT_PROTOCOL``
    (layout name -> its :attr:`~stvsr_blocks.data.layout.Layout.protocol`), read from the registry on access.

    Args:
        name: the attribute asked for.

    Returns:
        A tuple of names, or a dict name -> protocol name.

    Raises:
        AttributeError: for any other name.
    """
    from stvsr_blocks.data.layouts import LAYOUTS

    if name == "DATASET_LAYOUTS":
        return tuple(LAYOUTS)
    if name == "DEFAULT_PROTOCOL":
        return {n: lay.protocol for n, lay in LAYOUTS.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _layout(name: str) -> Any:
    """The registered :class:`~stvsr_blocks.data.layout.Layout`; an unknown name is a :class:`UserError`."""
    from stvsr_blocks.data.layouts import get_layout

    try:
        return get_layout(name)
    except ValueError as exc:
        raise UserError(f"--{exc}") from exc


_WINDOW_RULE = (
    "LR input = HR frames 0,2,4,... downscaled; window i feeds LR (2i, 2i+2) -> HR 2i, 2i+1, 2i+2; windows share "
    "endpoints; each GT frame scored once ({overlap} occurrence rule for inner LR frames); even-length clips: an extra "
    "window (LR_{{T-2}}, LR_{{T-1}}) scores HR T-1 as a VSR frame; VFI protocols score only the interpolated frames."
)


class UserError(Exception):
    """A problem with the user's input (bad path, bad option): reported as one line, exit code 2."""


# ------------------------------------------------------------------------------------------ windows
@dataclass(frozen=True)
class Window:
    """One model call of the evaluation: which HR frames are fed (downscaled) and which are scored.

    Args:
        inputs: HR indices ``(a, b)`` of the two frames fed at LR.
        outputs: ``(slot, hr_index)`` pairs: output ``slot`` (0 = ``SR_a``, 1 = middle, 2 = ``SR_b``)
            is a prediction of GT frame ``hr_index``.
        extra: ``True`` for the even-length tail window.
    """

    inputs: tuple[int, int]
    outputs: tuple[tuple[int, int], ...]
    extra: bool = False


def plan_windows(num_frames: int, task: Literal["stvsr", "vfi"] = "stvsr") -> tuple[list[Window], dict[int, str]]:
    """The windows that evaluate a clip of ``num_frames`` HR frames, and the group of each scored frame.

    See the module docstring for the rule. Every scored frame appears in ``outputs`` once per window
    that predicts it (inner LR frames twice; the evaluation keeps the first or averages).

    Args:
        num_frames: number of HR frames ``T`` (>= 2; >= 3 for ``task="vfi"``).
        task: ``"stvsr"`` (score all frames) or ``"vfi"`` (score only interpolated frames).

    Returns:
        ``(windows, kinds)`` with ``kinds[hr_index]`` = ``"vsr"`` or ``"vfi"`` for every scored frame.

    Raises:
        ValueError: if ``num_frames`` is too small or ``task`` is unknown.

    Example:
        >>> windows, kinds = plan_windows(4)
        >>> [(w.inputs, w.outputs) for w in windows]
        [((0, 2), ((0, 0), (1, 1), (2, 2))), ((2, 3), ((2, 3),))]
        >>> kinds
        {0: 'vsr', 1: 'vfi', 2: 'vsr', 3: 'vsr'}
    """
    if task not in ("stvsr", "vfi"):
        raise ValueError(f"task: expected 'stvsr' or 'vfi', got {task!r}")
    need = 2 if task == "stvsr" else 3
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < need:
        raise ValueError(f"num_frames: the {task} protocol needs clips of at least {need} frames, got {num_frames!r}")
    k = (num_frames - 1) // 2
    windows: list[Window] = []
    kinds: dict[int, str] = {}
    for i in range(k):
        a, b = 2 * i, 2 * i + 2
        if task == "vfi":
            windows.append(Window((a, b), ((1, a + 1),)))
            kinds[a + 1] = "vfi"
            continue
        windows.append(Window((a, b), ((0, a), (1, a + 1), (2, b))))
        kinds.update({a: "vsr", a + 1: "vfi", b: "vsr"})
    if task == "stvsr" and num_frames % 2 == 0:
        t = num_frames
        outs = ((0, t - 2), (2, t - 1)) if t == 2 else ((2, t - 1),)
        windows.append(Window((t - 2, t - 1), outs, extra=True))
        kinds.update({f: "vsr" for _, f in outs})
    return windows, kinds


# ------------------------------------------------------------------------------------------ models
def _find_checkpoint_dir(path: Path) -> Path | None:
    """The weights folder a ``--model`` path names.

    Accepts a save_pretrained folder or a training checkpoint folder (both hold ``config.json`` +
    ``model.safetensors``), a file inside one, or a training run folder (its ``final/`` folder, else
    its latest ``checkpoints/step_*``).
    """
    def ok(d: Path) -> bool:
        return (d / "config.json").is_file() and (d / "model.safetensors").is_file()

    if path.is_file() and path.name in ("config.json", "model.safetensors", "state.pt"):
        path = path.parent
    if ok(path):
        return path
    if path.is_dir():
        if ok(path / "final"):
            return path / "final"
        from stvsr_blocks.recipe.checkpoint import latest_checkpoint

        latest = latest_checkpoint(path)
        if latest is not None and ok(latest):
            return latest
    return None


def load_model(spec: str | os.PathLike[str], *, device: str | torch.device = "cpu", scale: int = 4) -> nn.Module:
    """Build a baseline by name or load a checkpoint, ready for inference (``eval()`` mode, on ``device``).

    Args:
        spec: a shipped model's name (:data:`stvsr_blocks.pretrained.PRETRAINED`, e.g. ``"mbnet-photo"``),
            ``"bicubic-blend"`` / ``"bicubic-flow"`` / ``"ffmpeg"`` (see :data:`BASELINES`), a
            :func:`~stvsr_blocks.models.save_pretrained` folder or training checkpoint folder
            (``config.json`` + ``model.safetensors``) or a file inside one, or a training run folder
            (its ``final/``, else its latest ``checkpoints/step_*``).
        device: where to put the model.
        scale: spatial scale of the baselines (checkpoints carry their own).

    Returns:
        The model, with ``model.config`` (an :class:`~stvsr_blocks.models.MBnetConfig`) and
        ``model.source`` (the spec string) set; on the CPU its weights are in ``channels_last`` memory format
        (:func:`stvsr_blocks.inference.use_channels_last`, 1.8× faster there).

    Raises:
        UserError: if ``spec`` is neither a baseline name nor a readable checkpoint.
    """
    from stvsr_blocks.pretrained import PRETRAINED, pretrained_dir

    text = os.fspath(spec)
    if text in BASELINES:
        model = BASELINES[text](scale)
    elif text in PRETRAINED and not Path(text).exists():
        try:
            found = pretrained_dir(text)
            model = load_pretrained(text, map_location="cpu")
        except (FileNotFoundError, ValueError) as exc:
            raise UserError(f"--model: {exc}") from exc
        model.weights_sha256 = sha256_file(found / "model.safetensors")
    else:
        path = Path(text)
        if not path.exists():
            raise UserError(
                f"--model: {text!r} is neither a shipped model ({', '.join(PRETRAINED)}), a baseline "
                f"({', '.join(BASELINES)}) nor an existing checkpoint path"
            )
        found = _find_checkpoint_dir(path)
        if found is None:
            raise UserError(
                f"--model: {path} holds no checkpoint (expected config.json + model.safetensors from "
                "save_pretrained or a training checkpoint, or a training run folder with final/ or checkpoints/)"
            )
        try:
            model = load_pretrained(found, map_location="cpu")
        except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
            raise UserError(f"--model: cannot load the checkpoint in {found}: {exc}") from exc
        model.weights_sha256 = sha256_file(found / "model.safetensors")
    model.source = text
    model = model.to(device).eval()
    if torch.device(device).type == "cpu":
        from stvsr_blocks.inference import use_channels_last

        use_channels_last(model)
    return model


def model_info(model: nn.Module) -> dict[str, Any]:
    """What identifies a model in a result file.

    Args:
        model: a model from :func:`load_model` (or any model built by :mod:`stvsr_blocks.models`).

    Returns:
        ``{"name", "source", "parameters", "scale", "weights_sha256", "config"}``.
    """
    cfg = getattr(model, "config", None)
    return {
        "name": getattr(cfg, "name", None) or getattr(model, "source", None) or type(model).__name__,
        "source": getattr(model, "source", None),
        "parameters": count_parameters(model, trainable_only=False),
        "scale": int(getattr(model, "scale", 4)),
        "weights_sha256": getattr(model, "weights_sha256", None),
        "config": cfg.to_dict() if hasattr(cfg, "to_dict") else None,
    }


# ------------------------------------------------------------------------------------------ data
@dataclass
class EvalClip:
    """One clip to evaluate.

    Args:
        name: clip name (unique within the dataset).
        hr: ``(T, 3, H, W)`` ground truth in ``[0, 1]``.
        lr: ``(T, 3, H/s, W/s)`` LR frames supplied by the dataset (e.g. Vid4 ``BIx4``), or ``None``.
    """

    name: str
    hr: Tensor
    lr: Tensor | None = None


def iter_clips(
    layout: str,
    root: str | os.PathLike[str] | None = None,
    *,
    split: str | None = None,
    limit: int | None = None,
    max_frames: int | None = None,
    synthetic_clips: int = 8,
    synthetic_size: tuple[int, int] = (64, 64),
    synthetic_frames: int = 7,
    synthetic_seed: int = 0,
) -> tuple[int, Iterator[EvalClip]]:
    """Open a dataset and iterate its clips lazily (one clip in memory at a time).

    Args:
        layout: a layout of :data:`stvsr_blocks.data.layouts.LAYOUTS`.
        root: dataset root (a video file / folder for ``video``); required for on-disk layouts, ignored by
            ``synthetic``, an optional folder of stills for ``photos``.
        split: a split of the layout (default: its ``eval_split``, e.g. Vimeo ``test``, the held-out synthetic
            seeds, the ``test`` photos); must be ``None`` for a layout without splits.
        limit: evaluate only the first ``limit`` clips.
        max_frames: read at most this many frames per clip.
        synthetic_clips: number of rendered clips (``synthetic``, ``photos`` and other rendered layouts).
        synthetic_size: ``(height, width)`` of the rendered clips.
        synthetic_frames: frames per rendered clip.
        synthetic_seed: seed of the first rendered clip (offset in the held-out seed range for ``synthetic``).

    Returns:
        ``(number_of_clips, iterator)``.

    Raises:
        UserError: on an unknown layout, a missing root or a malformed tree.
    """
    from stvsr_blocks.data.datasets import open_dataset

    lay = _layout(layout)
    if lay.on_disk and root is None:
        raise UserError(f"--root: the {layout!r} layout needs a dataset root (--root DIR)")
    if split is None:
        split = lay.eval_split
    elif not lay.splits:
        # ignored before the layout registry; kept working, with a notice, until it becomes an error
        warnings.warn(f"--split {split!r} is ignored: layout {layout!r} has no splits (this will become an "
                      "error in a later release)", FutureWarning, stacklevel=2)
        print(f"warning: --split {split!r} is ignored: layout {layout!r} has no splits", file=sys.stderr)
        split = None
    options: dict[str, Any] = {"max_frames": max_frames}
    if not lay.on_disk:
        options.update(n_clips=synthetic_clips, size=synthetic_size, frames=synthetic_frames, seed=synthetic_seed)
    try:
        reader = open_dataset(layout, root, split, **options)
    except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
        raise UserError(f"--{exc}" if str(exc).startswith(("split:", "root:")) else str(exc)) from exc
    n = len(reader) if limit is None else min(limit, len(reader))  # type: ignore[arg-type]

    def gen() -> Iterator[EvalClip]:
        for i in range(n):
            try:
                clip = reader[i]
            except (FileNotFoundError, ValueError) as exc:
                raise UserError(str(exc)) from exc
            assert clip.hr is not None
            k = max_frames
            yield EvalClip(clip.name, clip.hr[:k], None if clip.lr is None else clip.lr[:k])

    return n, gen()


# ------------------------------------------------------------------------------------------ scoring
@dataclass
class ModelScores:
    """Everything :func:`evaluate_models` recorded for one model.

    Args:
        accumulator: per-frame metrics (``summary()`` gives per-clip and overall means).
        frame_counts: ``{clip: {"all": n, "vsr": n, "vfi": n}}`` scored frames per group.
    """

    accumulator: MetricAccumulator
    frame_counts: dict[str, dict[str, int]]


def score_frame(pred: Tensor, target: Tensor, protocol: EvalProtocol) -> dict[str, float]:
    """PSNR and SSIM on Y and RGB (and ``ie`` when the protocol lists it) of one frame.

    Args:
        pred: ``(3, H, W)`` prediction in ``[0, 1]``.
        target: ``(3, H, W)`` ground truth.
        protocol: supplies ``crop`` and ``round_uint8`` (and whether ``ie`` is wanted).

    Returns:
        ``{"psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"[, "ie"][, "niqe"]}`` as floats (``niqe`` when the
        protocol lists it: no-reference, of ``pred`` only).

    Raises:
        UserError: if NIQE is wanted and the frame is smaller than two 96×96 patches.
    """
    kw = {"crop": protocol.crop, "round_uint8": protocol.round_uint8}
    out: dict[str, float] = {}
    for ch in ("y", "rgb"):
        out[f"psnr_{ch}"] = float(psnr(pred, target, channel=ch, **kw))
        out[f"ssim_{ch}"] = float(ssim(pred, target, channel=ch, **kw))
    if "ie" in protocol.metrics:
        out["ie"] = float(interpolation_error(pred, target, **kw))
    if "niqe" in protocol.metrics:  # NIQE (issue 17)
        try:
            out["niqe"] = float(niqe(pred, **kw))
        except ValueError as exc:
            raise UserError(f"--niqe: {exc}; drop --niqe for frames this small") from exc
    return out


def _lr_frames(clip: EvalClip, needed: Sequence[int], deg: Degradation, lr_source: str, device: torch.device) -> dict[int, Tensor]:
    if lr_source == "dataset":
        if clip.lr is None:
            raise UserError(f"--lr-source dataset: clip {clip.name!r} has no LR frames in the dataset")
        return {i: clip.lr[i].to(device) for i in needed}
    hr = clip.hr
    return {i: deg(hr[i]).to(device) for i in needed}


@torch.inference_mode()
def evaluate_models(
    models: dict[str, nn.Module],
    clips: Iterable[EvalClip],
    protocol: EvalProtocol,
    *,
    lr_kernel: str | None = None,
    lr_source: Literal["generate", "dataset"] = "generate",
    overlap: Literal["first", "average"] = "first",
    tiles: TileConfig | None = None,
    device: str | torch.device = "cpu",
    progress: Callable[[str], None] | None = None,
    keep: Callable[[str, str, int, Tensor], None] | None = None,
) -> dict[str, ModelScores]:
    """Evaluate several models on the same clips (each clip is loaded and downscaled once).

    Args:
        models: ``{label: model}``; all must have the same ``scale``.
        clips: the clips (e.g. from :func:`iter_clips`).
        protocol: the protocol (``task``, ``crop``, ``round_uint8``, ``lr_kernel``, ``metrics``).
        lr_kernel: override the protocol's LR kernel; ``None`` uses the protocol's, or ``"matlab"``
            when the protocol has none (VFI presets).
        lr_source: ``"generate"`` (downscale the HR frames) or ``"dataset"`` (use the clip's LR frames).
        overlap: ``"first"`` or ``"average"`` for inner LR frames (see the module docstring).
        tiles: spatial tiling of each window.
        device: where to run.
        progress: called with a line of text after each clip.
        keep: called as ``keep(label, clip_name, hr_index, prediction)`` for every scored frame (e.g. to
            save example crops).

    Returns:
        ``{label: ModelScores}`` with every scored frame recorded.

    Raises:
        UserError: if the models' scales differ, a clip is too short, or the protocol's scale differs
            from the models' for an STVSR protocol.
    """
    if not models:
        raise UserError("models: expected at least one model")
    scales = {int(getattr(m, "scale", 4)) for m in models.values()}
    if len(scales) != 1:
        raise UserError(f"models: all models must have the same scale, got {sorted(scales)}")
    scale = scales.pop()
    if protocol.task == "stvsr" and protocol.scale != scale:
        raise UserError(f"--protocol {protocol.name}: scale {protocol.scale} differs from the model's scale {scale}")
    kernel = lr_kernel or protocol.lr_kernel or "matlab"
    deg = Degradation(scale=scale, kernel=kernel)  # type: ignore[arg-type]
    dev = torch.device(device)
    scores = {label: ModelScores(MetricAccumulator(), {}) for label in models}
    for clip in clips:
        t0 = time.perf_counter()
        try:
            windows, kinds = plan_windows(int(clip.hr.shape[0]), protocol.task)
        except ValueError as exc:
            raise UserError(f"clip {clip.name!r}: {exc}") from exc
        if min(clip.hr.shape[-2:]) < max(11, scale):
            raise UserError(f"clip {clip.name!r}: frames of {tuple(clip.hr.shape[-2:])} are too small to score (>= 11x11)")
        clip = replace(clip, hr=crop_to_multiple(clip.hr, scale))
        needed = sorted({i for w in windows for i in w.inputs})
        lrs = _lr_frames(clip, needed, deg, lr_source, dev)
        last_use = {}
        for wi, w in enumerate(windows):
            for _, f in w.outputs:
                last_use[f] = wi
        for label, model in models.items():
            pending: dict[int, list[Tensor]] = {}
            whole = _whole_clip_outputs(model, windows, lrs)
            for wi, w in enumerate(windows):
                if not w.extra and whole is not None:
                    outs = tuple(whole[w.inputs[0] + k][None] for k in range(3))
                else:
                    outs = upscale_pair(model, lrs[w.inputs[0]][None], lrs[w.inputs[1]][None], tiles)
                for slot, f in w.outputs:
                    if overlap == "first" and f in pending:
                        continue
                    pending.setdefault(f, []).append(outs[slot][0])
                for f in [f for f, last in last_use.items() if last == wi]:
                    preds = pending.pop(f)
                    pred = preds[0] if len(preds) == 1 else torch.stack(preds).mean(0)
                    gt = clip.hr[f].to(dev)
                    scores[label].accumulator.update(clip.name, f, score_frame(pred, gt, protocol), kind=kinds[f])  # type: ignore[arg-type]
                    if keep is not None:
                        keep(label, clip.name, f, pred)
        counts = {"all": len(kinds), "vsr": 0, "vfi": 0}
        for kind in kinds.values():
            counts[kind] += 1
        for sc in scores.values():
            sc.frame_counts[clip.name] = {k: v for k, v in counts.items() if v}
        if progress is not None:
            progress(f"{clip.name}: {len(kinds)} frames scored in {time.perf_counter() - t0:.1f}s")
    return scores


def _whole_clip_outputs(model: nn.Module, windows: Sequence[Window], lrs: dict[int, Tensor]) -> dict[int, Tensor] | None:
    """For models that filter a whole clip at once (``upscale_clip``, e.g. FFmpeg's ``minterpolate``):
    every HR frame the regular windows produce, ``{hr_index: (3, H, W)}``; ``None`` for other models."""
    fn = getattr(model, "upscale_clip", None)
    regular = [w for w in windows if not w.extra and w.inputs[1] - w.inputs[0] == 2]
    if fn is None or not regular:
        return None
    seq = [w.inputs[0] for w in regular] + [regular[-1].inputs[1]]
    out = fn(torch.stack([lrs[i] for i in seq]))
    return {seq[0] + k: out[k] for k in range(out.shape[0])}


# ------------------------------------------------------------------------------------------ results
def result_entry(info: dict[str, Any], scores: ModelScores) -> dict[str, Any]:
    """One model's entry of a result file.

    Args:
        info: :func:`model_info` of the model.
        scores: what :func:`evaluate_models` recorded for it.

    Returns:
        ``{"model", "overall", "per_clip", "n_clips", "n_frames"}``; ``per_clip[clip]`` holds the group
        means plus ``"n_frames"`` per group.
    """
    summary = scores.accumulator.summary()
    counts = scores.frame_counts
    per_clip = {clip: {**groups, "n_frames": counts[clip]} for clip, groups in summary.per_clip.items()}
    return {"model": info, "overall": summary.groups, "per_clip": per_clip, "n_clips": summary.n_clips,
            "n_frames": summary.n_frames}


def write_report(
    out_dir: str | os.PathLike[str],
    results: list[dict[str, Any]],
    meta: dict[str, Any],
    *,
    title: str = "Evaluation",
) -> tuple[Path, Path, str]:
    """Write ``metrics.json`` and ``metrics.md`` for one or more models' results.

    Args:
        out_dir: output folder (created).
        results: one entry per model: ``{"model", "overall", "per_clip", "n_clips", "n_frames"}``.
        meta: protocol, dataset, LR, window rule, versions, ... (stored at the top level of the JSON).
        title: Markdown title.

    Returns:
        ``(json_path, markdown_path, markdown_text)``.
    """
    out = Path(out_dir)
    metrics = list(results[0]["overall"].get("all", next(iter(results[0]["overall"].values()))).keys())
    proto = meta.get("protocol", {})
    lines = [f"# {title}", ""]
    ds = meta.get("dataset", {})
    lines.append(
        f"Protocol **{proto.get('name')}** ({proto.get('task')}; headline channel {proto.get('channel')}, "
        f"crop {proto.get('crop')}, uint8 rounding {proto.get('round_uint8')}); LR: {meta.get('lr', {}).get('degradation')} "
        f"({meta.get('lr', {}).get('source')}); dataset `{ds.get('layout')}` {ds.get('root') or ''} "
        f"{'split ' + str(ds.get('split')) if ds.get('split') else ''} — {results[0]['n_clips']} clips, "
        f"{results[0]['n_frames']} scored frames per model; stvsr_blocks {meta.get('library', {}).get('version')}."
    )
    lines += ["", "Mean per clip, then over clips. `vsr`: frames with an LR input; `vfi`: interpolated frames.", ""]
    lines.append(report.metrics_table(results, metrics))
    lines += [f"Windows: {meta.get('windows', {}).get('rule', '')}", ""]
    for res in results:
        lines += [f"## Per clip: {res['model']['name']} (all frames)", "", report.per_clip_table(res, metrics)]
    text = "\n".join(lines)
    jp = report.write_json(out / "metrics.json", {**meta, "results": results})
    mp = report.write_text(out / "metrics.md", text)
    return jp, mp, text


def protocol_dict(p: EvalProtocol) -> dict[str, Any]:
    """A protocol as JSON-able data (every field, for result files).

    Args:
        p: the protocol.

    Returns:
        ``dataclasses.asdict(p)`` with ``metrics`` as a list.
    """
    d = asdict(p)
    d["metrics"] = list(p.metrics)
    return d


def run_evaluation(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``eval`` from parsed arguments and write the report.

    Args:
        args: the parsed command line (see :func:`add_arguments`).

    Returns:
        The JSON document that was written (with ``"paths"`` added).

    Raises:
        UserError: on invalid input.
    """
    import stvsr_blocks

    layout = args.layout
    proto_name = args.protocol or _layout(layout).protocol
    overrides: dict[str, Any] = {}
    if args.crop is not None:
        overrides["crop"] = args.crop
    if getattr(args, "niqe", False):  # NIQE (issue 17)
        overrides["metrics"] = (*PROTOCOLS[proto_name].metrics, "niqe") if proto_name in PROTOCOLS else ("niqe",)
    try:
        protocol = get_protocol(proto_name, **overrides)
    except (KeyError, ValueError, TypeError) as exc:
        raise UserError(f"--protocol: {exc.args[0] if exc.args else exc}") from exc
    device = torch.device(args.device)
    if args.model:
        specs = args.model
    else:
        from stvsr_blocks.pretrained import DEFAULT_MODEL

        specs = [DEFAULT_MODEL]
    models: dict[str, nn.Module] = {}
    infos: dict[str, dict[str, Any]] = {}
    for spec in specs:
        m = load_model(spec, device=device)
        info = model_info(m)
        label = info["name"]
        while label in models:
            label += "'"
        info["name"] = label
        models[label], infos[label] = m, info
    size = tuple(int(v) for v in args.synthetic_size.lower().split("x")) if args.synthetic_size else (64, 64)
    if len(size) != 2:
        raise UserError(f"--synthetic-size: expected HxW, got {args.synthetic_size!r}")
    n, clips = iter_clips(
        layout, args.root, split=args.split, limit=args.limit, max_frames=args.max_frames,
        synthetic_clips=args.synthetic_clips, synthetic_size=size, synthetic_frames=args.synthetic_frames,
    )
    try:
        tiles = TileConfig(tile=args.tile, overlap=args.tile_overlap) if args.tile else None
    except ValueError as exc:
        raise UserError(f"--tile/--tile-overlap: {exc}") from exc
    kernel = args.lr_kernel or protocol.lr_kernel or "matlab"
    scale = next(iter(infos.values()))["scale"]
    print(f"eval: {', '.join(infos)} on {layout} ({n} clips), protocol {protocol.name}, LR kernel {kernel}", flush=True)
    t0 = time.perf_counter()
    count = [0]

    def prog(line: str) -> None:
        count[0] += 1
        if not args.quiet:
            print(f"  [{count[0]}/{n}] {line}", flush=True)

    scores = evaluate_models(models, clips, protocol, lr_kernel=args.lr_kernel, lr_source=args.lr_source,
                           overlap=args.overlap, tiles=tiles, device=device, progress=prog)
    if not any(len(sc.accumulator) for sc in scores.values()):
        raise UserError("no clip was evaluated (empty dataset or --limit 0)")
    results = [result_entry(infos[label], sc) for label, sc in scores.items()]
    meta = {
        "library": {"name": "stvsr_blocks", "version": stvsr_blocks.__version__, "torch": torch.__version__},
        "protocol": protocol_dict(protocol),
        "lr": {"kernel": kernel, "degradation": Degradation(scale=scale, kernel=kernel).name,  # type: ignore[arg-type]
               "source": args.lr_source},
        "windows": {"overlap": args.overlap, "rule": _WINDOW_RULE.format(overlap=args.overlap)},
        "dataset": {"layout": layout, "root": str(args.root) if args.root else None, "split": args.split,
                    "limit": args.limit, "max_frames": args.max_frames},
        "tiles": {"tile": args.tile, "overlap": args.tile_overlap},
        "device": str(device),
        "runtime_s": round(time.perf_counter() - t0, 3),
    }
    out_dir = Path(args.out) if args.out else Path("outputs") / "eval" / f"{layout}-{protocol.name}"
    jp, mp, text = write_report(out_dir, results, meta, title=f"Evaluation on {layout}")
    print()
    print(report.metrics_table(results, list(results[0]["overall"]["all"].keys())))
    print(f"wrote {jp}\nwrote {mp}")
    return {**meta, "results": results, "paths": {"json": str(jp), "markdown": str(mp)}}


# ------------------------------------------------------------------------------------------ CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``eval`` options (``--layout``/``--split`` choices: the layouts registered now).

    Args:
        parser: the sub-command parser.
    """
    from stvsr_blocks.data.layouts import LAYOUTS

    splits = sorted({s for lay in LAYOUTS.values() for s in lay.splits})
    parser.add_argument("--model", action="append", metavar="SPEC",
                        help="shipped model name, checkpoint folder (save_pretrained / training run) or baseline "
                             f"name ({', '.join(BASELINES)}); repeat to compare models (default: the shipped model)")
    parser.add_argument("--layout", choices=tuple(LAYOUTS), default="synthetic",
                        help="dataset layout (default synthetic; the registered layouts)")
    parser.add_argument("--root", type=Path, help="dataset root (a video file or folder for --layout video)")
    parser.add_argument("--split", choices=splits, help="split of the layout, e.g. Vimeo's (default: the layout's "
                        "evaluation split, test)")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), help="protocol preset (default: by layout)")
    parser.add_argument("--lr-kernel", choices=("matlab", "pil", "torch"), help="override the protocol's LR kernel")
    parser.add_argument("--lr-source", choices=("generate", "dataset"), default="generate",
                        help="make LR frames from HR (default) or use the dataset's LR frames (e.g. Vid4 BIx4)")
    parser.add_argument("--crop", type=arg_nonneg_int, help="override the protocol's border crop")
    parser.add_argument("--niqe", action="store_true",
                        help="also report NIQE of every output frame (no-reference; frames >= 96x192)")
    parser.add_argument("--overlap", choices=("first", "average"), default="first",
                        help="inner LR frames: score the first window's SR (default) or the mean of both")
    parser.add_argument("--limit", type=arg_nonneg_int, help="evaluate only the first N clips")
    parser.add_argument("--max-frames", type=int, help="use at most N frames per clip")
    parser.add_argument("--synthetic-clips", type=int, default=8, help="held-out synthetic clips (default 8)")
    parser.add_argument("--synthetic-size", default="64x64", help="synthetic HR size HxW (default 64x64)")
    parser.add_argument("--synthetic-frames", type=int, default=7, help="synthetic frames per clip (default 7)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--tile", type=arg_nonneg_int, default=0, help="LR tile size for spatial tiling (0: whole frames)")
    parser.add_argument("--tile-overlap", type=arg_nonneg_int, default=16, help="LR tile overlap (default 16)")
    parser.add_argument("--out", type=Path, help="report folder (default outputs/eval/<layout>-<protocol>)")
    parser.add_argument("--quiet", action="store_true", help="no per-clip progress lines")


def main(args: argparse.Namespace) -> int:
    """Run the ``eval`` sub-command.

    Args:
        args: parsed arguments.

    Returns:
        0 on success, 2 on a user error (a one-line message on stderr).
    """
    if str(getattr(args, "device", "cpu")).startswith("cpu"):
        keep_freed_memory()  # reuse activation memory across model calls (no page faults per call)
    try:
        run_evaluation(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
