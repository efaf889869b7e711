"""Runtime pieces of :func:`stvsr_blocks.recipe.fit.fit`: processes, devices, seeds, the data order, the logs.

Private to the recipe: :mod:`stvsr_blocks.recipe.fit` re-exports what is public
(:class:`ResumableDistributedSampler`, :func:`lr_lambda`, :func:`validate`, :func:`log_columns`,
:func:`plot_training_curves`).
"""

from __future__ import annotations

import csv
import math
import os
import random
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import Dataset, DistributedSampler

from stvsr_blocks.recipe.config import ConfigError, TrainSection

#: Columns of ``log.csv`` before the loss terms (``loss`` is the total).
HEAD_COLUMNS: tuple[str, ...] = ("step", "epoch", "lr", "loss")
#: Columns of ``log.csv`` after the loss terms (empty cells where a value was not measured).
TAIL_COLUMNS: tuple[str, ...] = ("grad_norm", "samples_per_s", "val_psnr", "val_psnr_mid", "elapsed_s")


def log_columns(term_names: Sequence[str]) -> tuple[str, ...]:
    """Columns of ``log.csv`` for a loss with these named terms (``total`` excluded: it is ``loss``).

    Args:
        term_names: the loss terms other than the total, in the loss' order.

    Returns:
        ``("step", "epoch", "lr", "loss", *term_names, "grad_norm", ..., "elapsed_s")``.
    """
    return (*HEAD_COLUMNS, *(n for n in term_names if n != "total"), *TAIL_COLUMNS)


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


# --------------------------------------------------------------------------------------------- schedule, validation
def lr_lambda(step: int, cfg: Any, *, time_fraction: float | None = None) -> float:
    """Learning-rate multiplier at ``step`` (warm-up, then constant / cosine / multistep).

    Args:
        step: number of optimisation steps done.
        cfg: the :class:`~stvsr_blocks.recipe.config.TrainSection`, or a run config holding one as ``train``.
        time_fraction: with ``train.schedule_by_time``, the spent fraction of ``train.budget_s``: the cosine
            schedule's progress after the warm-up (instead of the steps' fraction). ``None``: by steps.

    Returns:
        The factor applied to ``train.lr``.

    Example:
        >>> t = TrainSection(scheduler="cosine", steps=10)
        >>> round(lr_lambda(10, t), 6)
        0.0
    """
    t = cfg if isinstance(cfg, TrainSection) else cfg.train
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


def _psnr_rgb(pred: Tensor, target: Tensor) -> Tensor:
    """Validation PSNR: RGB, ``pred`` clamped to ``[0, 1]``, no 8-bit rounding, float32, capped at 100 dB.

    Not :func:`stvsr_blocks.metrics.psnr` (Y channel, rounded, uncapped): the training curves keep the
    numbers earlier runs logged. ``(N, C, H, W)`` in, ``(N,)`` out.
    """
    mse = (pred.float().clamp(0, 1) - target.float()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(1e-10))).clamp_max(100.0)


@torch.no_grad()
def validate(model: nn.Module, clips: Sequence[tuple[Tensor, Tensor]], *, device: torch.device,
             autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Mean validation PSNR (RGB, unrounded, capped at 100 dB) per window over its 3 frames, then over windows.

    Args:
        model: the model (unwrapped; put in ``eval`` mode here and restored afterwards).
        clips: ``[(lr, hr)]`` windows (e.g. :func:`stvsr_blocks.recipe.train.build_validation_clips`).
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
            p = _psnr_rgb(frames.flatten(0, 1), hr.flatten(0, 1))
            all_psnr.append(float(p.mean()))
            mid_psnr.append(float(p[1]))
    finally:
        model.train(was_training)
    return {"val_psnr": float(np.mean(all_psnr)), "val_psnr_mid": float(np.mean(mid_psnr))}


# --------------------------------------------------------------------------------------------- processes
@dataclass
class Dist:
    """This process' place in the job."""

    world: int
    rank: int
    local_rank: int
    created: bool


def setup_distributed(backend: str, device_hint: str) -> Dist:
    """Join the ``torchrun`` process group (or report the one already joined, or a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        return Dist(dist.get_world_size(), dist.get_rank(), local_rank, False)
    if world <= 1:
        return Dist(1, 0, 0, False)
    if backend == "auto":
        backend = "nccl" if device_hint.startswith("cuda") else "gloo"
    dist.init_process_group(backend=backend)
    return Dist(dist.get_world_size(), dist.get_rank(), local_rank, True)


def barrier(d: Dist) -> None:
    if d.world > 1:
        dist.barrier()


def resolve_device(spec: str, local_rank: int) -> torch.device:
    """``"auto"``/``"cpu"``/``"cuda"``/``"cuda:1"`` as a device (``cuda`` without index: ``cuda:LOCAL_RANK``)."""
    if spec == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    dev = torch.device(spec)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device: {spec!r} requested but CUDA is not available")
        if dev.index is None:
            dev = torch.device(f"cuda:{local_rank}")
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class BudgetClock:
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

    def spent(self, d: Dist) -> bool:
        if self.budget_s is None:
            return False
        flag = self.elapsed() >= self.budget_s
        if d.world > 1:
            flag_t = torch.tensor([float(flag)], device=self.device)
            dist.broadcast(flag_t, src=0)
            flag = bool(flag_t.item())
        return flag


def timed(items: Any, total: Any, key: Any = 0) -> Iterator[Any]:
    """Iterate ``items``, adding the time spent waiting for each item to ``total[key]``.

    The one stopwatch of the recipe: the training loop's data wait (``total`` a one-element list) and
    ``stvsr upscale``'s decode / model split (``total`` a dict of seconds) use it.
    """
    it = iter(items)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            total[key] += time.perf_counter() - t0
            return
        total[key] += time.perf_counter() - t0
        yield item


# --------------------------------------------------------------------------------------------- logs
def read_csv(path: Path, max_step: int) -> list[dict[str, float]]:
    """The rows of ``log.csv`` up to ``max_step`` (numeric cells only; ``step``/``epoch`` as ints)."""
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            row: dict[str, float] = {}
            for k, v in rec.items():
                if k is None or v in ("", None):
                    continue
                try:
                    row[k] = float(v)
                except ValueError:
                    continue
            if "step" in row and row["step"] <= max_step:
                row["step"] = int(row["step"])
                if "epoch" in row:
                    row["epoch"] = int(row["epoch"])
                rows.append(row)
    return rows


def _csv_header(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), None)


class CSVLog:
    """``log.csv``: rewritten (atomically) with the rows kept on resume, then appended row by row.

    The columns are fixed by the first row written (:func:`log_columns` of the loss' terms); a run that
    writes no row keeps the columns of the file it resumed.
    """

    def __init__(self, path: Path, kept: list[dict[str, float]]) -> None:
        self.path, self.kept = path, list(kept)  # a copy: the caller appends the new rows to its list
        self.columns: tuple[str, ...] | None = None
        self._old_header = _csv_header(path)

    def _rewrite(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore")
            w.writeheader()
            for r in self.kept:
                w.writerow({k: _fmt(r.get(k)) for k in self.columns})
        os.replace(tmp, self.path)

    def write(self, row: dict[str, float], columns: Sequence[str]) -> None:
        if self.columns is None:
            self._rewrite(columns)
        assert self.columns is not None
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore").writerow(
                {k: _fmt(row.get(k)) for k in self.columns})

    def close(self) -> None:
        """Drop rows past the resumed step from a file no row was written to."""
        if self.columns is None and self._old_header:
            self._rewrite(self._old_header)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, int):
        return str(v)
    return f"{float(v):.8g}"


def tensorboard(out_dir: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - optional dependency
        warnings.warn("tensorboard is not installed: TensorBoard logging disabled (pip install tensorboard)",
                      stacklevel=3)
        return None
    return SummaryWriter(log_dir=str(out_dir / "tb"), purge_step=purge_step)


def plot_training_curves(history: Sequence[dict[str, float]], path: str | os.PathLike[str], *,
                         title: str = "") -> Path | None:
    """Draw the training history into a PNG (:func:`stvsr_blocks.recipe.report.plot_curves`: one panel per quantity).

    Args:
        history: rows with ``step`` and any of the ``log.csv`` columns.
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
