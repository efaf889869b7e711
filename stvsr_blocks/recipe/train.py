"""Train an MBnet model: ``python recipes/mbnet.py train --config recipes/configs/cpu_small.yaml``.

Configuration comes from a YAML/JSON file (``--config``; presets in ``recipes/configs/``), then
``--section.key value`` flags and ``--set section.key=value`` overrides, then the direct flags
(``--amp``, ``--device``, ``--seed``, ``--steps``). The run folder (``--out``, default ``runs/<name>``)
receives ``config.yaml`` (the resolved config), ``log.csv``, TensorBoard events under ``tb/``,
``curves.png``, checkpoints under ``checkpoints/step_XXXXXXXX/`` and, at the end, ``final/`` (a
:func:`stvsr_blocks.models.load_pretrained` folder).

Exact resume: ``--resume auto`` (latest checkpoint of the run folder) or ``--resume PATH``. The data
order is a function of ``(seed, epoch)`` only (a ``DistributedSampler`` permutation, skipped to the
position of the checkpoint's step), the augmentation a function of ``(seed, epoch, index)``, and the
optimizer, scheduler, grad-scaler and RNG states are restored, so a run killed at any moment and
resumed reaches bit-identical weights to an uninterrupted one.

Multi-process: ``torchrun --nproc_per_node=N recipes/mbnet.py train ...`` wraps the model in
``DistributedDataParallel`` (``gloo`` on CPU, ``nccl`` on CUDA). ``train.batch_size`` is the global
batch (each rank loads ``batch_size / N``); only rank 0 writes files.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from stvsr_blocks.configs import resolve_config_path
from stvsr_blocks.recipe.checkpoint import (
    CHECKPOINT_DIRNAME,
    CheckpointError,
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    remove_stale_temporaries,
    resolve_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from stvsr_blocks.recipe.config import (
    ConfigError,
    ModelSection,
    TrainRunConfig,
    config_to_dict,
    leaf_fields,
    load_config,
    read_config_file,
    save_config,
)

__all__ = [
    "TrainRunConfig",
    "TrainResult",
    "LOG_COLUMNS",
    "LOSS_TERMS",
    "ResumableDistributedSampler",
    "build_model_from_config",
    "build_train_dataset",
    "build_validation_clips",
    "FOOTAGE_LAYOUTS",
    "lr_lambda",
    "validate",
    "psnr",
    "plot_training_curves",
    "train",
    "config_from_args",
    "add_arguments",
    "main",
]

#: Loss terms logged every ``log.every`` steps (:class:`stvsr_blocks.losses.LossTerms` fields).
LOSS_TERMS: tuple[str, ...] = (
    "total", "reconstruction", "flow_hr", "flow_lr", "flow_unsupervised", "flow_supervised", "intermediate",
)

#: Columns of ``log.csv`` (``loss`` is the total; empty cells where a value was not measured).
LOG_COLUMNS: tuple[str, ...] = (
    "step", "epoch", "lr", "loss", "reconstruction", "flow_hr", "flow_lr", "flow_unsupervised",
    "flow_supervised", "intermediate", "grad_norm", "samples_per_s", "val_psnr", "val_psnr_mid", "elapsed_s",
)

_RUN_CONFIG = "config.yaml"
_STATE_VERSION = 1


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        out_dir: the run folder.
        checkpoint: the last checkpoint folder written (``None`` on ranks other than 0).
        final_dir: ``final/`` (``load_pretrained`` format) when the schedule ran to ``train.steps`` or the
            wall-clock budget ``train.budget_s`` ended the run, else ``None``.
        step: the global step reached.
        history: the logged rows (``LOG_COLUMNS`` keys; missing values omitted), including those of earlier
            runs of a resumed run; on ranks other than 0 the rows of this process.
        world_size: number of processes that trained.
        loop_s: wall-clock seconds of this invocation's training loop.
        data_wait_s: seconds of ``loop_s`` the loop waited for the next batch from the ``DataLoader`` (its
            share of ``loop_s`` approximates the time the accelerator starved for data).
    """

    out_dir: Path
    checkpoint: Path | None
    final_dir: Path | None
    step: int
    history: list[dict[str, float]] = field(default_factory=list)
    world_size: int = 1
    loop_s: float = 0.0
    data_wait_s: float = 0.0


# --------------------------------------------------------------------------------------------- pieces
def build_model_from_config(section: ModelSection, *, seed: int | None = None) -> nn.Module:
    """Build the model of a :class:`~stvsr_blocks.recipe.config.ModelSection`.

    Args:
        section: preset, variant and :class:`~stvsr_blocks.models.MBnetConfig` overrides.
        seed: seed the global torch RNG right before the final build (deterministic initial weights).

    Returns:
        The model (with ``model.config``).

    Raises:
        ConfigError: on an unknown variant or override key.
    """
    from stvsr_blocks.models import VARIANTS, MBnetConfig, build_model, mbnet_variant

    if section.variant not in VARIANTS:
        raise ConfigError(f"model.variant: expected one of {sorted(VARIANTS)}, got {section.variant!r}")
    if seed is not None:
        torch.manual_seed(seed)
    model = mbnet_variant(section.variant, base=section.preset)
    if section.overrides:
        data = _deep_merge(model.config.to_dict(), section.overrides)
        try:
            cfg = MBnetConfig.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model.overrides: {exc}") from exc
        if seed is not None:
            torch.manual_seed(seed)
        model = build_model(cfg)
    return model


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _synthetic_video_config(cfg: TrainRunConfig) -> Any:
    from stvsr_blocks.data.synthetic import SyntheticVideoConfig

    s = cfg.data.synthetic
    return SyntheticVideoConfig(height=s.height, width=s.width, frames=s.frames, n_layers=s.n_layers,
                                max_speed=s.max_speed)


#: The built-in layouts of a user's own footage (kept for old imports: the recipe reads ``Layout.footage``, so a
#: registered footage layout need not be listed here): each clip is split into 3-frame windows, its tail held out.
FOOTAGE_LAYOUTS: tuple[str, ...] = ("video", "frames")


def build_train_dataset(cfg: TrainRunConfig) -> Dataset:
    """The training dataset: 3-HR-frame windows (LR = frames 1 and 3) as random aligned crops.

    ``layout: photos`` renders photo-textured windows at times ``(0, t, 1)`` (random ``t`` with
    ``data.random_time``) from the embedded training photos, or from the folder of stills ``data.root``;
    ``layout: synthetic`` renders the sinusoid-texture videos; own footage (``video``, ``frames``) gives one
    sample per 3-frame window of each clip except its held-out tail (``data.holdout``), optionally mixed
    with photo windows (``data.photos_ratio``); any other layout reads a dataset tree (one random window
    per clip).

    Args:
        cfg: the run config (``data`` section and ``train.seed``).

    Returns:
        A :class:`stvsr_blocks.data.train.STVSRTrainDataset` yielding
        ``TrainSample(lr, hr, t, flows, flow_mask)`` with ``lr`` ``2×3×p×p`` and ``hr`` ``3×3×sp×sp``.

    Raises:
        ConfigError: if a dataset layout is given without ``data.root``.
        ValueError: if the layout is unknown or the data is unusable.
        FileNotFoundError: if the dataset tree is incomplete.
    """
    from stvsr_blocks.data.datasets import open_dataset
    from stvsr_blocks.data.layouts import get_layout
    from stvsr_blocks.data.train import STVSRTrainDataset

    d = cfg.data
    layout = get_layout(d.layout)
    # the config has one options section per built-in rendered layout
    if layout.name == "synthetic":
        source: Any = open_dataset("synthetic", None, "train", n_clips=d.synthetic.n_clips,
                                   config=_synthetic_video_config(cfg), seed=d.synthetic.seed)
    elif layout.name == "photos":
        source = open_dataset("photos", d.root, "train", n_clips=d.n_clips, config=d.photos, seed=d.photos.seed,
                              random_time=d.random_time)
    else:
        if layout.on_disk and not d.root:
            raise ConfigError(f"data.root: layout {d.layout!r} needs a dataset root (e.g. --data.root "
                              "/data/vimeo_septuplet), or use data.layout=photos (built-in, no download)")
        source = open_dataset(layout.name, d.root, d.split if layout.splits else None)
        if layout.footage:
            from stvsr_blocks.data.footage import ClipWindows

            source = ClipWindows(source, window=3, holdout=d.holdout, part="train")
            if d.photos_ratio > 0:
                from torch.utils.data import ConcatDataset

                n_photo = max(1, round(len(source) * d.photos_ratio / (1 - d.photos_ratio)))
                source = ConcatDataset([source, open_dataset("photos", None, "train", n_clips=n_photo,
                                                             config=d.photos, seed=d.photos.seed,
                                                             random_time=d.random_time)])
    return STVSRTrainDataset(source, lr_patch=d.lr_patch, scale=d.scale, kernel=d.kernel, augment=d.augment,
                             seed=cfg.train.seed, num_frames=3, temporal="stvsr")


def build_validation_clips(cfg: TrainRunConfig) -> list[tuple[Tensor, Tensor]]:
    """Held-out validation windows: the first 3 HR frames of ``data.val_clips`` clips and their LR pair.

    Synthetic training validates on clips from the reserved held-out seed range; a dataset layout on its
    ``val_split`` (e.g. Vimeo's test list) unless ``val_layout``/``val_root`` say otherwise. Clips are
    spread evenly over the dataset; frames are centre-cropped to ``val_crop``.

    Args:
        cfg: the run config.

    Returns:
        ``[(lr, hr)]`` with ``lr`` ``1×2×3×h×w`` and ``hr`` ``1×3×3×H×W`` (CPU tensors); empty when
        ``val_clips == 0`` or no validation source can be determined.
    """

    d = cfg.data
    if d.val_clips == 0:
        return []
    from stvsr_blocks.data.datasets import open_dataset
    from stvsr_blocks.data.layouts import get_layout

    layout = get_layout(d.val_layout or d.layout)
    if layout.name == "synthetic":
        source: Any = open_dataset("synthetic", None, layout.val_split, n_clips=d.val_clips,
                                   config=_synthetic_video_config(cfg))
    elif layout.name == "photos":
        from dataclasses import replace

        side = d.val_crop or max(d.photos.height, d.photos.width)
        source = open_dataset("photos", d.val_root, layout.val_split, n_clips=d.val_clips, seed=0,
                              config=replace(d.photos, height=side, width=side, times=(0.0, 0.5, 1.0)))
    else:
        root = d.val_root or d.root
        if d.val_layout is None and layout.footage and root:
            from stvsr_blocks.data.footage import ClipWindows

            source = ClipWindows(open_dataset(layout.name, root), window=3, holdout=d.holdout, part="val")
            return _validation_windows(source, d)
        if d.val_layout is None and layout.val_split is None:
            warnings.warn(f"no validation data for layout {layout.name!r}: set data.val_layout/data.val_root "
                          "(validation disabled)", stacklevel=2)
            return []
        source = open_dataset(layout.name, root, d.val_split if layout.splits else None)
    return _validation_windows(source, d)


def _validation_windows(source: Any, d: Any) -> list[tuple[Tensor, Tensor]]:
    from stvsr_blocks.data.degrade import make_stvsr_pair

    n = len(source)
    idx = sorted({int(i) for i in np.linspace(0, n - 1, num=min(d.val_clips, n))})
    out = []
    for i in idx:
        hr = source[i].hr
        if hr is None or hr.shape[0] < 3:
            continue
        hr = hr[:3]
        if d.val_crop is not None:
            c = d.val_crop - d.val_crop % d.scale
            h, w = hr.shape[-2:]
            top, left = max(0, (h - c) // 2), max(0, (w - c) // 2)
            hr = hr[..., top : top + c, left : left + c]
        lr, hr = make_stvsr_pair(hr, d.scale, d.kernel)
        out.append((lr.unsqueeze(0), hr.unsqueeze(0)))
    return out


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """PSNR in dB of images in ``[0, 1]`` (``pred`` clamped), one value per leading index.

    Args:
        pred: ``(N, C, H, W)`` prediction.
        target: ``(N, C, H, W)`` ground truth.

    Returns:
        ``(N,)`` PSNR values (capped at 100 dB for identical images).

    Raises:
        ValueError: if the shapes differ.

    Example:
        >>> round(psnr(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1)).item(), 2)
        20.0
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    mse = (pred.float().clamp(0, 1) - target.float()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(1e-10))).clamp_max(100.0)


@torch.no_grad()
def validate(model: nn.Module, clips: Sequence[tuple[Tensor, Tensor]], *, device: torch.device,
             autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Mean PSNR of the model on validation windows (per window over its 3 frames, then over windows).

    Args:
        model: the model (unwrapped; put in ``eval`` mode here and restored afterwards).
        clips: ``[(lr, hr)]`` from :func:`build_validation_clips`.
        device: where to run.
        autocast_dtype: run under ``torch.autocast`` with this dtype (``None``: full precision).

    Returns:
        ``{"val_psnr": ..., "val_psnr_mid": ...}`` (the interpolated middle frame alone), or ``{}`` for no
        clips.
    """
    if not clips:
        return {}
    was_training = model.training
    model.eval()
    all_psnr, mid_psnr = [], []
    try:
        for lr, hr in clips:
            lr, hr = lr.to(device), hr.to(device)
            ctx = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else nullcontext()
            with ctx:
                out = model(lr[:, 0], lr[:, 1])
            frames = torch.stack([f.float() for f in out.frames], dim=1)
            p = psnr(frames.flatten(0, 1), hr.flatten(0, 1))
            all_psnr.append(float(p.mean()))
            mid_psnr.append(float(p[1]))
    finally:
        model.train(was_training)
    return {"val_psnr": float(np.mean(all_psnr)), "val_psnr_mid": float(np.mean(mid_psnr))}


class ResumableDistributedSampler(DistributedSampler):
    """``DistributedSampler`` (shuffled, ``drop_last``) that can start an epoch part-way through.

    The permutation of epoch ``e`` is ``torch.randperm`` seeded with ``seed + e`` (exactly
    ``DistributedSampler``'s), rank ``r`` takes every ``num_replicas``-th index, and
    :meth:`set_epoch` can skip the first ``skip`` of them, so the data order is a function of
    ``(seed, epoch, position)`` alone: the ``n``-th global batch contains the same samples whatever
    the world size.

    Args:
        dataset: the dataset (only its length is used).
        num_replicas: number of processes.
        rank: this process.
        seed: base seed of the permutations.
        shuffle: shuffle (``False``: dataset order).
    """

    def __init__(self, dataset: Dataset, *, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch and how many of this rank's indices to skip.

        Args:
            epoch: epoch number.
            skip: indices of this rank to skip at the start of the epoch.

        Raises:
            ValueError: if ``skip`` is negative or exceeds the epoch.
        """
        if skip < 0 or skip > self.num_samples:
            raise ValueError(f"skip: expected 0 <= skip <= {self.num_samples}, got {skip}")
        super().set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        """This rank's indices of the current epoch after the skipped ones.

        Returns:
            An iterator over dataset indices.
        """
        return iter(list(super().__iter__())[self.skip :])

    def __len__(self) -> int:
        """Number of indices :meth:`__iter__` yields."""
        return self.num_samples - self.skip


def lr_lambda(step: int, cfg: TrainRunConfig, *, time_fraction: float | None = None) -> float:
    """Learning-rate multiplier at ``step`` (warm-up, then constant / cosine / multistep).

    Args:
        step: number of optimisation steps done.
        cfg: the run config (``train`` section).
        time_fraction: with ``train.schedule_by_time``, the spent fraction of ``train.budget_s``: the cosine
            schedule's progress after the warm-up (instead of the steps' fraction). ``None``: by steps.

    Returns:
        The factor applied to ``train.lr``.

    Example:
        >>> cfg = TrainRunConfig()
        >>> cfg.train.scheduler, cfg.train.steps = "cosine", 10
        >>> round(lr_lambda(10, cfg), 6)
        0.0
    """
    t = cfg.train
    if t.warmup_steps and step < t.warmup_steps:
        return (step + 1) / t.warmup_steps
    if t.scheduler == "cosine":
        span = max(1, t.steps - t.warmup_steps)
        progress = min(1.0, (step - t.warmup_steps) / span if time_fraction is None else max(0.0, time_fraction))
        floor = t.min_lr / t.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if t.scheduler == "multistep":
        return t.gamma ** sum(step >= m for m in t.milestones)
    return 1.0


def plot_training_curves(history: Sequence[dict[str, float]], path: str | os.PathLike[str], *, title: str = "") -> Path | None:
    """Draw the training history into a PNG (:func:`stvsr_blocks.recipe.report.plot_curves`: one panel per quantity).

    Args:
        history: rows with ``step`` and any of ``LOG_COLUMNS``.
        path: output PNG.
        title: figure title.

    Returns:
        The path, or ``None`` when matplotlib is missing or there is nothing to plot.
    """
    from stvsr_blocks.recipe.report import plot_curves

    try:
        return plot_curves(history, path, title=title)
    except (ImportError, ValueError):
        return None


# --------------------------------------------------------------------------------------------- runtime
@dataclass
class _Dist:
    world: int
    rank: int
    local_rank: int
    created: bool


def _setup_distributed(cfg: TrainRunConfig, device_hint: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        return _Dist(dist.get_world_size(), dist.get_rank(), local_rank, False)
    if world <= 1:
        return _Dist(1, 0, 0, False)
    backend = cfg.ddp.backend
    if backend == "auto":
        backend = "nccl" if device_hint.startswith("cuda") else "gloo"
    dist.init_process_group(backend=backend)
    return _Dist(dist.get_world_size(), dist.get_rank(), local_rank, True)


def _resolve_device(spec: str, local_rank: int) -> torch.device:
    if spec == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(spec)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device: {spec!r} requested but CUDA is not available")
        if dev.index is None:
            dev = torch.device(f"cuda:{local_rank}")
    return dev


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _read_csv(path: Path, max_step: int) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            row = {k: float(v) for k, v in rec.items() if k in LOG_COLUMNS and v not in ("", None)}
            if "step" in row and row["step"] <= max_step:
                row["step"] = int(row["step"])
                if "epoch" in row:
                    row["epoch"] = int(row["epoch"])
                rows.append(row)
    return rows


class _CSVLog:
    """``log.csv`` writer: rewritten (atomically) with the rows kept on resume, then appended per row."""

    def __init__(self, path: Path, rows: list[dict[str, float]]) -> None:
        self.path = path
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=LOG_COLUMNS)
            w.writeheader()
            for r in rows:
                w.writerow({k: _fmt(r.get(k)) for k in LOG_COLUMNS})
        os.replace(tmp, path)

    def write(self, row: dict[str, float]) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=LOG_COLUMNS).writerow({k: _fmt(row.get(k)) for k in LOG_COLUMNS})


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, int):
        return str(v)
    return f"{float(v):.8g}"


def _tensorboard(out_dir: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - optional dependency
        warnings.warn("tensorboard is not installed: TensorBoard logging disabled (pip install tensorboard)",
                      stacklevel=3)
        return None
    return SummaryWriter(log_dir=str(out_dir / "tb"), purge_step=purge_step)


def _build_loss(cfg: TrainRunConfig, device: torch.device) -> nn.Module:
    from stvsr_blocks.losses import LossConfig, MBnetLoss

    lc = LossConfig(**cfg.loss.loss_config_kwargs())
    teacher = None
    from stvsr_blocks.data.layouts import get_layout

    exact = get_layout(cfg.data.layout).exact_flow and lc.flow_target != "teacher"
    if lc.lambda_b > 0 and not exact and lc.flow_target != "exact":
        from stvsr_blocks.flow.raft import RAFTTeacher

        t = cfg.loss.teacher
        teacher = RAFTTeacher(t.model, weights=t.weights, num_flow_updates=t.num_flow_updates)
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    return MBnetLoss(lc, teacher=teacher).to(device)


def _build_optimizer(cfg: TrainRunConfig, model: nn.Module) -> torch.optim.Optimizer:
    t = cfg.train
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("model: has no trainable parameters (a parameter-free baseline cannot be trained)")
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=t.lr, betas=t.betas, weight_decay=t.weight_decay)


# --------------------------------------------------------------------------------------------- train()
def train(cfg: TrainRunConfig, *, out_dir: str | os.PathLike[str], resume: str | os.PathLike[str] | None = None,
          progress: bool = True) -> TrainResult:
    """Train a model as ``cfg`` describes (single process, or one rank of a ``torchrun`` job).

    Args:
        cfg: the run config.
        out_dir: run folder (created); rank 0 writes ``config.yaml``, ``log.csv``, ``tb/``, ``curves.png``,
            ``checkpoints/`` and ``final/`` there.
        resume: ``None`` (fresh start; an existing checkpoint in ``out_dir`` is an error), ``"auto"`` (the
            latest checkpoint in ``out_dir``, or a fresh start without one) or a checkpoint/run folder.
        progress: show a tqdm progress bar (rank 0).

    Returns:
        The :class:`TrainResult`.

    Raises:
        ConfigError: on an inconsistent config (batch size not divisible by the world size, dataset smaller
            than one global batch, CUDA requested but missing, ...).
        FileExistsError: if ``resume`` is ``None`` and ``out_dir`` already has checkpoints.
        FileNotFoundError: if ``resume`` names no checkpoint.
        FloatingPointError: if the loss becomes non-finite.
    """
    if not isinstance(cfg, TrainRunConfig):
        raise TypeError(f"cfg: expected a TrainRunConfig, got {type(cfg).__name__}")
    out = Path(out_dir)
    dinfo = _setup_distributed(cfg, cfg.train.device if cfg.train.device != "auto" else
                               ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        return _train(cfg, out, resume, progress, dinfo)
    finally:
        if dinfo.created and dist.is_initialized():
            dist.destroy_process_group()


class _BudgetClock:
    """Wall-clock budget of the training loop (``train.budget_s``): elapsed time, spent fraction, stop flag.

    The elapsed time includes earlier invocations of a resumed run (``elapsed_before``); under DDP the stop
    decision is rank 0's, broadcast, so every rank stops after the same step.
    """

    def __init__(self, budget_s: float | None, device: torch.device) -> None:
        self.budget_s, self.device = budget_s, device
        self.before = 0.0
        self.t0: float | None = None

    def start(self, elapsed_before: float) -> None:
        self.before, self.t0 = float(elapsed_before), time.perf_counter()

    def elapsed(self) -> float:
        return self.before + (0.0 if self.t0 is None else time.perf_counter() - self.t0)

    def fraction(self) -> float | None:
        return None if self.budget_s is None else min(1.0, self.elapsed() / self.budget_s)

    def spent(self, d: _Dist) -> bool:
        if self.budget_s is None:
            return False
        flag = self.elapsed() >= self.budget_s
        if d.world > 1:
            flag_t = torch.tensor([float(flag)], device=self.device)
            dist.broadcast(flag_t, src=0)
            flag = bool(flag_t.item())
        return flag


def _timed(loader: Any, total: list[float]) -> Iterator[Any]:
    """Iterate ``loader``, adding the time spent waiting for each batch to ``total[0]``."""
    it = iter(loader)
    while True:
        t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            return
        total[0] += time.perf_counter() - t0
        yield batch


def _barrier(d: _Dist) -> None:
    if d.world > 1:
        dist.barrier()


def _train(cfg: TrainRunConfig, out: Path, resume: Any, progress: bool, d: _Dist) -> TrainResult:
    t, lg = cfg.train, cfg.log
    device = _resolve_device(t.device, d.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    is_main = d.rank == 0
    if t.batch_size % d.world:
        raise ConfigError(f"train.batch_size: the global batch {t.batch_size} is not divisible by the "
                          f"world size {d.world}")
    per_rank = t.batch_size // d.world
    if t.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    ckpt_dir = out / CHECKPOINT_DIRNAME

    # ----- where to start
    ckpt_path = None
    if resume is not None:
        ckpt_path = resolve_checkpoint(resume, out)
    elif latest_checkpoint(out) is not None:
        raise FileExistsError(f"out_dir: {str(out)!r} already holds checkpoints; resume with resume='auto' "
                              "(--resume auto) or choose another folder")
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(ckpt_dir)
        save_config(cfg, out / _RUN_CONFIG)
    _barrier(d)

    # ----- model, loss, optimiser (deterministic init; identical on every rank)
    model = build_model_from_config(cfg.model, seed=t.seed).to(device)
    if t.channels_last:
        model = model.to(memory_format=torch.channels_last)
    loss_fn = _build_loss(cfg, device)
    optimizer = _build_optimizer(cfg, model)
    clock = _BudgetClock(t.budget_s, device)  # train.budget_s / train.schedule_by_time
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_lambda(s, cfg, time_fraction=clock.fraction() if t.schedule_by_time else None))
    amp_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[t.amp]
    use_scaler = t.amp == "fp16" and device.type == "cuda"
    if t.amp == "fp16" and not use_scaler and is_main:
        warnings.warn("amp=fp16 on CPU runs without loss scaling; prefer --amp bf16", stacklevel=2)
    scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)

    step, elapsed_before = 0, 0.0
    history: list[dict[str, float]] = []
    rng_restored = False
    if ckpt_path is not None:
        ck = load_checkpoint(ckpt_path, map_location="cpu")
        model.load_state_dict(ck.weights)
        st = ck.state
        optimizer.load_state_dict(st["optimizer"])
        scheduler.load_state_dict(st["scheduler"])
        if st.get("scaler"):
            scaler.load_state_dict(st["scaler"])
        step = ck.step
        elapsed_before = float(st.get("elapsed_s", 0.0))
        rngs = st.get("rng") or []
        if int(st.get("world_size", 1)) == d.world and len(rngs) == d.world:
            restore_rng_state(rngs[d.rank])
            rng_restored = True
        elif is_main:
            warnings.warn(f"resuming with world size {d.world} from a checkpoint of world size "
                          f"{st.get('world_size')}: the data order is kept, the RNG states are re-seeded",
                          stacklevel=2)
        if is_main:
            history = _read_csv(out / "log.csv", step)
    if not rng_restored:
        _seed_everything(t.seed + d.rank + 1_000_003 * step)

    ddp_model: nn.Module = model
    if d.world > 1:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=cfg.ddp.find_unused_parameters)
    model.train()

    # ----- data
    dataset = build_train_dataset(cfg)
    sampler = ResumableDistributedSampler(dataset, num_replicas=d.world, rank=d.rank, seed=t.seed)
    steps_per_epoch = sampler.num_samples // per_rank
    if steps_per_epoch < 1:
        raise ConfigError(f"data: {len(dataset)} training samples are fewer than one global batch "
                          f"({t.batch_size}); add clips or lower train.batch_size")
    val_clips = build_validation_clips(cfg) if is_main else []

    # ----- logging (rank 0)
    csv_log = _CSVLog(out / "log.csv", history) if is_main else None
    writer = _tensorboard(out, step) if (is_main and lg.tensorboard) else None
    from tqdm.auto import tqdm

    bar = tqdm(total=t.steps, initial=step, desc=cfg.name, disable=not (progress and is_main), dynamic_ncols=True,
               unit="step")

    limit = t.steps if t.stop_after is None else min(t.steps, t.stop_after)
    acc = torch.zeros(len(LOSS_TERMS), device=device, dtype=torch.float64)
    acc_n, last_grad_norm = 0, None
    t_start = time.perf_counter()
    t_log, step_log = t_start, step
    clock.start(elapsed_before)
    data_wait = [0.0]  # seconds waited for batches (_timed)
    budget_hit = clock.spent(d)  # a resumed run whose budget is already spent ends at once (final/ from it)
    last_ckpt: Path | None = None
    saved_at = step if budget_hit else -1

    def checkpoint_now() -> Path | None:
        nonlocal saved_at
        rng = capture_rng_state()
        if d.world > 1:
            gathered: list[Any] = [None] * d.world
            dist.all_gather_object(gathered, rng)
            rngs = gathered
        else:
            rngs = [rng]
        path = None
        if is_main:
            state = {
                "version": _STATE_VERSION,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if use_scaler else {},
                "rng": rngs,
                "sampler": {"seed": t.seed, "epoch": step // steps_per_epoch,
                            "position": (step % steps_per_epoch) * per_rank, "steps_per_epoch": steps_per_epoch},
                "world_size": d.world,
                "elapsed_s": elapsed_before + time.perf_counter() - t_start,
                "config": config_to_dict(cfg),
            }
            path = save_checkpoint(ckpt_dir, step, model=model, state=state, keep_last=lg.keep_last,
                                   extra={"run": cfg.name, "step": step})
        saved_at = step
        _barrier(d)
        return path

    try:
        while step < limit and not budget_hit:
            epoch, pos = divmod(step, steps_per_epoch)
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
            sampler.set_epoch(epoch, skip=pos * per_rank)
            loader = DataLoader(
                dataset, batch_size=per_rank, sampler=sampler, num_workers=cfg.data.num_workers, drop_last=True,
                pin_memory=device.type == "cuda",
                generator=torch.Generator().manual_seed(t.seed * 1000003 + epoch * 7919 + d.rank),
            )
            for batch in _timed(loader, data_wait):
                lr_clip = batch.lr.to(device, non_blocking=True)
                hr_clip = batch.hr.to(device, non_blocking=True)
                t_mid = batch.t.to(device, non_blocking=True)
                ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()
                with ctx:
                    output = ddp_model(lr_clip[:, 0], lr_clip[:, 1], t=t_mid)
                    terms = loss_fn(output, hr_clip, lr_clip, flows=batch.flows.to(device, non_blocking=True),
                                    flow_mask=batch.flow_mask.to(device, non_blocking=True))
                scaler.scale(terms.total).backward()
                if t.grad_clip > 0:
                    scaler.unscale_(optimizer)
                    last_grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                scheduler.step()
                step += 1
                acc += torch.stack([getattr(terms, k).detach().double() for k in LOSS_TERMS])
                acc_n += 1
                bar.update(1)

                budget_hit = clock.spent(d)
                final = step >= limit or budget_hit
                do_val = bool(val_clips) and (step % lg.val_every == 0 or step == t.steps or budget_hit)
                if step % lg.every == 0 or step % lg.val_every == 0 or final:
                    vals = acc / acc_n
                    if d.world > 1:
                        dist.all_reduce(vals)
                        vals /= d.world
                    vals_l = vals.tolist()
                    if not math.isfinite(vals_l[0]):
                        raise FloatingPointError(f"step {step}: the loss is not finite ({vals_l[0]}); "
                                                 "lower train.lr, enable train.grad_clip or disable AMP")
                    now = time.perf_counter()
                    row: dict[str, float] = {
                        "step": step, "epoch": step // steps_per_epoch, "lr": scheduler.get_last_lr()[0],
                        "samples_per_s": (step - step_log) * t.batch_size / max(now - t_log, 1e-9),
                    }
                    row.update({("loss" if k == "total" else k): v for k, v in zip(LOSS_TERMS, vals_l)})
                    if last_grad_norm is not None:
                        row["grad_norm"] = float(last_grad_norm)
                    if is_main and do_val:
                        row.update(validate(model, val_clips, device=device, autocast_dtype=amp_dtype))
                    row["elapsed_s"] = elapsed_before + time.perf_counter() - t_start
                    acc.zero_()
                    acc_n, t_log, step_log = 0, time.perf_counter(), step
                    history.append(row)
                    if is_main:
                        assert csv_log is not None
                        csv_log.write(row)
                        if writer is not None:
                            for k, v in row.items():
                                if k not in ("step", "epoch"):
                                    writer.add_scalar(f"{'val' if k.startswith('val') else 'train'}/{k}", v, step)
                            writer.flush()
                        if lg.curves and do_val:
                            plot_training_curves(history, out / "curves.png", title=cfg.name)
                        post = {"loss": f"{row['loss']:.4f}", "rec": f"{row['reconstruction']:.4f}",
                                "flow": f"{row['flow_unsupervised']:.4f}",
                                "smp/s": f"{row['samples_per_s']:.1f}"}
                        if "val_psnr" in row:
                            post["psnr"] = f"{row['val_psnr']:.2f}"
                        bar.set_postfix(post, refresh=False)
                if step % lg.ckpt_every == 0 or final:
                    p = checkpoint_now()
                    last_ckpt = p if p is not None else last_ckpt
                if final:
                    break
        if saved_at != step and step > 0:
            p = checkpoint_now()
            last_ckpt = p if p is not None else last_ckpt
    finally:
        bar.close()
        if writer is not None:
            writer.close()

    final_dir = None
    if is_main:
        if last_ckpt is None:
            last_ckpt = latest_checkpoint(out)
        if lg.curves and history:
            plot_training_curves(history, out / "curves.png", title=cfg.name)
        if step >= t.steps or budget_hit:
            from stvsr_blocks.models import save_pretrained

            final_dir = save_pretrained(model, out / "final", extra={"run": cfg.name, "step": step})
    _barrier(d)
    return TrainResult(out_dir=out, checkpoint=last_ckpt if is_main else None, final_dir=final_dir, step=step,
                       history=history, world_size=d.world, loop_s=time.perf_counter() - t_start,
                       data_wait_s=data_wait[0])


# --------------------------------------------------------------------------------------------- CLI
_OVERRIDE_PREFIX = "override:"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to a parser.

    Besides the direct flags, every config key is a flag of its own (``--train.steps 200``,
    ``--data.layout vimeo-septuplet``) and ``--set KEY=VALUE`` may be repeated.

    Args:
        parser: the (sub)parser.
    """
    parser.usage = ("%(prog)s [--config FILE] [--section.key VALUE ...] [--set KEY=VALUE ...] [--out DIR] "
                    "[--resume PATH|auto] [--amp {none,bf16,fp16}] [--device DEV] [--seed N] [--steps N] "
                    "[--no-progress] [--print-config]")
    parser.add_argument("--config", help="YAML/JSON config file, or a shipped config's name (tiny, cpu_small, mbnet_photo, mbnet_paper)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key by its dotted path, e.g. --set train.steps=200 (repeatable)")
    parser.add_argument("--out", help="run folder (default: runs/<name>)")
    parser.add_argument("--resume", metavar="PATH|auto",
                        help="continue from a checkpoint folder, a run folder, or 'auto' (latest in --out)")
    parser.add_argument("--amp", choices=["none", "bf16", "fp16"], help="mixed precision (= train.amp)")
    parser.add_argument("--device", help="'auto', 'cpu', 'cuda', 'cuda:1' (= train.device)")
    parser.add_argument("--seed", type=int, help="seed (= train.seed)")
    parser.add_argument("--steps", type=int, help="total optimisation steps (= train.steps)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    group = parser.add_argument_group("config keys", "every key of the config file, as --section.key VALUE")
    for key, tp, default in leaf_fields(TrainRunConfig):
        shown = "" if default is None or isinstance(default, (dict, list)) else f" (default {default})"
        group.add_argument(f"--{key}", dest=f"{_OVERRIDE_PREFIX}{key}", default=argparse.SUPPRESS, metavar="V",
                           help=f"{_type_label(tp)}{shown}")


def _type_label(tp: Any) -> str:
    return str(tp).replace("typing.", "").replace("NoneType", "None")


def config_from_args(args: argparse.Namespace) -> tuple[TrainRunConfig, Path]:
    """Resolve the config and the run folder of parsed ``train`` arguments.

    Order: the defaults, the run's stored ``config.yaml`` (when resuming without ``--config``), the
    ``--config`` file, the ``--section.key`` flags, the ``--set`` overrides, then the direct flags.

    Args:
        args: the parsed arguments.

    Returns:
        ``(config, out_dir)``.

    Raises:
        ConfigError: on an unknown key or a bad value.
        FileNotFoundError: if the config file does not exist.
    """
    ns = vars(args)
    overrides: list[Any] = [(k[len(_OVERRIDE_PREFIX):], _yaml_value(v)) for k, v in ns.items()
                            if k.startswith(_OVERRIDE_PREFIX)]
    overrides += list(ns.get("overrides") or [])
    for flag, key in (("amp", "train.amp"), ("device", "train.device"), ("seed", "train.seed"), ("steps", "train.steps")):
        if ns.get(flag) is not None:
            overrides.append((key, ns[flag]))
    base = None
    if ns.get("resume") and not ns.get("config"):
        run_dir = Path(ns["out"]) if ns.get("out") else None
        if run_dir is None and ns["resume"] != "auto":
            p = Path(ns["resume"])
            cands = [p, p.parent, p.parent.parent, p.parent.parent.parent]
            run_dir = next((c for c in cands if (c / _RUN_CONFIG).is_file()), None)
        if run_dir is not None and (run_dir / _RUN_CONFIG).is_file():
            base = read_config_file(run_dir / _RUN_CONFIG)
    cfg = load_config(TrainRunConfig, resolve_config_path(ns["config"]) if ns.get("config") else None, overrides, base=base)
    out = Path(ns["out"]) if ns.get("out") else Path("runs") / cfg.name
    return cfg, out


def _yaml_value(text: Any) -> Any:
    import yaml

    if not isinstance(text, str):
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def main(args: argparse.Namespace) -> int:
    """Run ``train`` from parsed arguments.

    Args:
        args: the arguments of :func:`add_arguments`.

    Returns:
        The exit status (0 on success, 2 on a config error, an existing run without ``--resume``, or a
        missing file: config, checkpoint, dataset or teacher weights).
    """
    try:
        cfg, out = config_from_args(args)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"stvsr train: error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "print_config", False):
        import yaml

        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
        return 0
    try:
        result = train(cfg, out_dir=out, resume=args.resume, progress=not args.no_progress)
    except (ConfigError, CheckpointError, FileExistsError, FileNotFoundError) as exc:
        print(f"stvsr train: error: {exc}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        last = result.history[-1] if result.history else {}
        msg = f"done: step {result.step}, run folder {result.out_dir}"
        if "val_psnr" in last:
            msg += f", val PSNR {last['val_psnr']:.2f} dB"
        print(msg)
    return 0



if __name__ == "__main__":  # ``python -m stvsr_blocks.recipe.train ...`` (same options as ``mbnet.py train``)
    _parser = argparse.ArgumentParser(prog="python -m stvsr_blocks.recipe.train", description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
