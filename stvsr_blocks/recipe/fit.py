"""``fit()``: the recipe's training loop for ready-built parts (any model, any loss, any training data).

:func:`stvsr_blocks.recipe.train.train` builds an MBnet, its loss and its data from a config and calls
:func:`fit`; a model of your own goes straight to :func:`fit` and gets the same exact resume, DDP, AMP,
logging and atomic checkpoints::

    from stvsr_blocks.recipe.config import LogSection, TrainSection
    from stvsr_blocks.recipe.fit import fit

    result = fit(my_loop, MBnetLoss(), train_dataset, val_data=clips, out_dir="runs/mine",
                 train=TrainSection(steps=2000, batch_size=8, lr=1e-3), log=LogSection(every=20))
    fit(my_loop, MBnetLoss(), train_dataset, out_dir="runs/mine", train=..., resume="auto")  # after a kill

**The parts.**

- ``model``: an ``nn.Module`` honouring :class:`~stvsr_blocks.loop.InteractionLoop`'s call and output
  contract: ``model(lr0, lr1, t=t)`` with ``(B, 3, h, w)`` LR frames and ``(B,)`` times returns an object
  with ``frames`` (three ``(B, 3, H, W)`` tensors) -- what the loss reads (a
  :class:`~stvsr_blocks.loop.LoopOutput` for :class:`~stvsr_blocks.losses.MBnetLoss`).
- ``loss``: ``loss(output, hr, lr, flows=..., flow_mask=...)`` returns the named terms: a dataclass
  (such as :class:`~stvsr_blocks.losses.LossTerms`) or a mapping of scalar tensors, with ``total`` the
  one backpropagated. Every other term is averaged over ``log.every`` steps and logged as a ``log.csv``
  column of its own name (``total`` as ``loss``). ``flows``/``flow_mask`` are the batch's exact flows, or
  ``None`` where the batch has none.
- ``train_data``: a map-style ``Dataset`` whose collated batches have ``lr`` ``(B, 2, 3, h, w)``
  (frames ``t-1``, ``t+1``), ``hr`` ``(B, 3, 3, H, W)`` (``t-1``, ``t``, ``t+1``) and optionally ``t``
  ``(B,)``, ``flows``, ``flow_mask`` -- e.g. :class:`stvsr_blocks.data.train.STVSRTrainDataset`'s
  ``TrainSample``. It may have ``set_epoch(epoch)`` (called before each epoch).
- ``val_data``: ``[(lr, hr)]`` validation windows (``lr`` ``1×2×3×h×w``, ``hr`` ``1×3×3×H×W``); scored by
  :func:`validate` on rank 0.

**What is saved.** Each checkpoint (:mod:`stvsr_blocks.recipe.checkpoint`) holds the model's
``state_dict`` (``model.safetensors``), ``config.json`` (``{"format", "step", "extra"}`` with ``extra`` =
``{"run": name, "step": step, **metadata}``, plus ``"config"`` = ``model.config.to_dict()`` when the model
has such a config, as every :mod:`stvsr_blocks.models` model does) and ``state.pt`` (optimizer, scheduler,
grad scaler, RNG states, data position, elapsed time, ``config`` and ``metadata``). At the end of the
schedule, ``final/`` is :func:`~stvsr_blocks.models.save_pretrained` output for a library model
(``load_pretrained`` opens it), and ``model.safetensors`` + ``config.json`` (``{"format", "extra"}``) for a
model of your own: rebuild it in your code and load the state dict.

**Exact resume.** The data order is a function of ``(seed, epoch)`` only (a ``DistributedSampler``
permutation, skipped to the position of the checkpoint's step), the optimizer, scheduler, grad-scaler and
RNG states are restored, so a run killed at any moment and resumed reaches bit-identical weights to an
uninterrupted one -- provided the model and the data are the same deterministic functions of the seed
(build the model after ``torch.manual_seed`` and pass augmentation seeds to the dataset).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from stvsr_blocks.recipe import _runtime as rt
from stvsr_blocks.recipe._runtime import (
    ResumableDistributedSampler,
    _psnr_rgb,  # noqa: F401 - re-exported for stvsr_blocks.recipe.train's deprecated psnr
    log_columns,
    lr_lambda,
    plot_training_curves,
    validate,
)
from stvsr_blocks.recipe.checkpoint import (
    CHECKPOINT_DIRNAME,
    atomic_write,
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    remove_stale_temporaries,
    resolve_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from stvsr_blocks.recipe.config import ConfigError, DDPSection, LogSection, TrainSection, config_to_dict, save_config

__all__ = ["fit", "TrainResult", "validate", "lr_lambda", "log_columns", "ResumableDistributedSampler",
           "plot_training_curves"]

RUN_CONFIG = "config.yaml"
_STATE_VERSION = 1
_AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainResult:
    """What :func:`fit` (and :func:`stvsr_blocks.recipe.train.train`) returns.

    Attributes:
        out_dir: the run folder.
        checkpoint: the last checkpoint folder written (``None`` on ranks other than 0).
        final_dir: ``final/`` when the schedule ran to ``train.steps`` or the wall-clock budget
            ``train.budget_s`` ended the run, else ``None``.
        step: the global step reached.
        history: the logged rows (``log.csv`` keys; missing values omitted), including those of earlier
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


def _named_terms(terms: Any) -> dict[str, Tensor]:
    """The loss' terms as ``{name: tensor}`` (a dataclass or a mapping; ``total`` required)."""
    if is_dataclass(terms) and not isinstance(terms, type):
        out = {f.name: getattr(terms, f.name) for f in fields(terms)}
    elif isinstance(terms, Mapping):
        out = dict(terms)
    else:
        raise TypeError(f"loss: expected it to return a dataclass or a mapping of named terms, got "
                        f"{type(terms).__name__}")
    if "total" not in out:
        raise TypeError(f"loss: the returned terms have no 'total' (got {sorted(out)})")
    return out


# --------------------------------------------------------------------------------------------- the run
@dataclass
class _Run:
    """Everything one invocation of :func:`fit` mutates, in one place."""

    model: nn.Module
    ddp_model: nn.Module
    loss: Callable[..., Any]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any
    amp_dtype: torch.dtype | None
    device: torch.device
    d: rt.Dist
    t: TrainSection
    lg: LogSection
    out: Path
    name: str
    config: Any
    metadata: dict[str, Any]
    clock: rt.BudgetClock
    per_rank: int
    steps_per_epoch: int = 0
    step: int = 0
    elapsed_before: float = 0.0
    t_start: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    term_names: tuple[str, ...] = ()
    acc: Tensor | None = None
    acc_n: int = 0
    grad_norm: Tensor | None = None
    t_log: float = 0.0
    step_log: int = 0

    @property
    def is_main(self) -> bool:
        return self.d.rank == 0

    @property
    def use_scaler(self) -> bool:
        return bool(self.scaler.is_enabled())


def _prepare(model: nn.Module, loss: Any, t: TrainSection, lg: LogSection, ddp: DDPSection, out: Path,
             resume: Any, name: str, config: Any, metadata: dict[str, Any], d: rt.Dist) -> tuple[_Run, Path | None]:
    """Device, run folder, optimizer, scheduler and scaler; the checkpoint to resume from (or ``None``)."""
    device = rt.resolve_device(t.device, d.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if t.batch_size % d.world:
        raise ConfigError(f"train.batch_size: the global batch {t.batch_size} is not divisible by the "
                          f"world size {d.world}")
    if t.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    ckpt_path = None
    if resume is not None:
        ckpt_path = resolve_checkpoint(resume, out)
    elif latest_checkpoint(out) is not None:
        raise FileExistsError(f"out_dir: {str(out)!r} already holds checkpoints; resume with resume='auto' "
                              "(--resume auto) or choose another folder")
    if d.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out / CHECKPOINT_DIRNAME)
        if config is not None:
            save_config(config, out / RUN_CONFIG)
    rt.barrier(d)

    model = model.to(device)
    if t.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if isinstance(loss, nn.Module):
        loss = loss.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("model: has no trainable parameters (a parameter-free baseline cannot be trained)")
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    optimizer = cls(params, lr=t.lr, betas=t.betas, weight_decay=t.weight_decay)
    clock = rt.BudgetClock(t.budget_s, device)  # train.budget_s / train.schedule_by_time
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_lambda(s, t, time_fraction=clock.fraction() if t.schedule_by_time else None))
    use_scaler = t.amp == "fp16" and device.type == "cuda"
    if t.amp == "fp16" and not use_scaler and d.rank == 0:
        warnings.warn("amp=fp16 on CPU runs without loss scaling; prefer --amp bf16", stacklevel=3)
    scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)
    run = _Run(model=model, ddp_model=model, loss=loss, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
               amp_dtype=_AMP[t.amp], device=device, d=d, t=t, lg=lg, out=out, name=name, config=config,
               metadata=metadata, clock=clock, per_rank=t.batch_size // d.world)
    return run, ckpt_path


def _restore(run: _Run, ckpt_path: Path | None) -> None:
    """Load the checkpoint's weights and training state; seed the RNGs when their states are not restored."""
    rng_restored = False
    if ckpt_path is not None:
        ck = load_checkpoint(ckpt_path, map_location="cpu")
        run.model.load_state_dict(ck.weights)
        st = ck.state
        run.optimizer.load_state_dict(st["optimizer"])
        run.scheduler.load_state_dict(st["scheduler"])
        if st.get("scaler"):
            run.scaler.load_state_dict(st["scaler"])
        run.step = ck.step
        run.elapsed_before = float(st.get("elapsed_s", 0.0))
        rngs = st.get("rng") or []
        if int(st.get("world_size", 1)) == run.d.world and len(rngs) == run.d.world:
            restore_rng_state(rngs[run.d.rank])
            rng_restored = True
        elif run.is_main:
            warnings.warn(f"resuming with world size {run.d.world} from a checkpoint of world size "
                          f"{st.get('world_size')}: the data order is kept, the RNG states are re-seeded",
                          stacklevel=3)
        if run.is_main:
            run.history = rt.read_csv(run.out / "log.csv", run.step)
    if not rng_restored:
        rt.seed_everything(run.t.seed + run.d.rank + 1_000_003 * run.step)


def _checkpoint(run: _Run) -> Path | None:
    """Write a checkpoint of the current step (rank 0; every rank contributes its RNG state)."""
    rng = capture_rng_state()
    if run.d.world > 1:
        rngs: list[Any] = [None] * run.d.world
        dist.all_gather_object(rngs, rng)
    else:
        rngs = [rng]
    path = None
    if run.is_main:
        spe = run.steps_per_epoch
        state = {
            "version": _STATE_VERSION,
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "scaler": run.scaler.state_dict() if run.use_scaler else {},
            "rng": rngs,
            "sampler": {"seed": run.t.seed, "epoch": run.step // spe, "position": (run.step % spe) * run.per_rank,
                        "steps_per_epoch": spe},
            "world_size": run.d.world,
            "elapsed_s": run.elapsed_before + time.perf_counter() - run.t_start,
        }
        if run.config is not None:
            state["config"] = dict(run.config) if isinstance(run.config, Mapping) else config_to_dict(run.config)
        if run.metadata:
            state["metadata"] = dict(run.metadata)
        path = save_checkpoint(run.out / CHECKPOINT_DIRNAME, run.step, model=run.model, state=state,
                               keep_last=run.lg.keep_last, extra={"run": run.name, "step": run.step, **run.metadata})
    rt.barrier(run.d)
    return path


def _train_step(run: _Run, batch: Any) -> None:
    """One optimisation step on a batch; the terms are added to the running averages."""
    dev = run.device
    lr_clip = batch.lr.to(dev, non_blocking=True)
    hr_clip = batch.hr.to(dev, non_blocking=True)
    t_mid = getattr(batch, "t", None)
    flows, mask = getattr(batch, "flows", None), getattr(batch, "flow_mask", None)
    ctx = torch.autocast(dev.type, dtype=run.amp_dtype) if run.amp_dtype else nullcontext()
    with ctx:
        output = run.ddp_model(lr_clip[:, 0], lr_clip[:, 1], t=None if t_mid is None else t_mid.to(dev, non_blocking=True))
        terms = _named_terms(run.loss(output, hr_clip, lr_clip,
                                      flows=None if flows is None else flows.to(dev, non_blocking=True),
                                      flow_mask=None if mask is None else mask.to(dev, non_blocking=True)))
    run.scaler.scale(terms["total"]).backward()
    if run.t.grad_clip > 0:
        run.scaler.unscale_(run.optimizer)
        run.grad_norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.t.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.optimizer.zero_grad(set_to_none=True)
    run.scheduler.step()
    run.step += 1
    if run.acc is None:
        run.term_names = tuple(terms)
        run.acc = torch.zeros(len(terms), device=dev, dtype=torch.float64)
    run.acc += torch.stack([terms[k].detach().double() for k in run.term_names])
    run.acc_n += 1


def _log_row(run: _Run, do_val: bool, val_data: Sequence[tuple[Tensor, Tensor]]) -> dict[str, float]:
    """The averaged terms since the last row (all-reduced under DDP), throughput, validation, elapsed time."""
    assert run.acc is not None
    vals = run.acc / run.acc_n
    if run.d.world > 1:
        dist.all_reduce(vals)
        vals /= run.d.world
    vals_l = vals.tolist()
    total = vals_l[run.term_names.index("total")]
    if not math.isfinite(total):
        raise FloatingPointError(f"step {run.step}: the loss is not finite ({total}); "
                                 "lower train.lr, enable train.grad_clip or disable AMP")
    now = time.perf_counter()
    row: dict[str, float] = {
        "step": run.step, "epoch": run.step // run.steps_per_epoch, "lr": run.scheduler.get_last_lr()[0],
        "samples_per_s": (run.step - run.step_log) * run.t.batch_size / max(now - run.t_log, 1e-9),
    }
    row.update({("loss" if k == "total" else k): v for k, v in zip(run.term_names, vals_l)})
    if run.grad_norm is not None:
        row["grad_norm"] = float(run.grad_norm)
    if run.is_main and do_val:
        row.update(validate(run.model, val_data, device=run.device, autocast_dtype=run.amp_dtype))
    row["elapsed_s"] = run.elapsed_before + time.perf_counter() - run.t_start
    run.acc.zero_()
    run.acc_n, run.t_log, run.step_log = 0, time.perf_counter(), run.step
    run.history.append(row)
    return row


class _Outputs:
    """Rank 0's sinks of a log row: ``log.csv``, TensorBoard, ``curves.png`` and the progress bar."""

    def __init__(self, run: _Run, progress: bool) -> None:
        from tqdm.auto import tqdm

        main = run.is_main
        self.run = run
        self.csv = rt.CSVLog(run.out / "log.csv", run.history) if main else None
        self.writer = rt.tensorboard(run.out, run.step) if (main and run.lg.tensorboard) else None
        self.bar = tqdm(total=run.t.steps, initial=run.step, desc=run.name, disable=not (progress and main),
                        dynamic_ncols=True, unit="step")

    def write(self, row: dict[str, float], do_val: bool) -> None:
        run = self.run
        if self.csv is None:
            return
        self.csv.write(row, log_columns(run.term_names))
        if self.writer is not None:
            for k, v in row.items():
                if k not in ("step", "epoch"):
                    self.writer.add_scalar(f"{'val' if k.startswith('val') else 'train'}/{k}", v, run.step)
            self.writer.flush()
        if run.lg.curves and do_val:
            plot_training_curves(run.history, run.out / "curves.png", title=run.name)
        post = {"loss": f"{row['loss']:.4f}"}
        post.update({k[:4]: f"{row[k]:.4f}" for k in run.term_names[1:3] if k != "total" and k in row})
        post["smp/s"] = f"{row['samples_per_s']:.1f}"
        if "val_psnr" in row:
            post["psnr"] = f"{row['val_psnr']:.2f}"
        self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()
        if self.csv is not None:
            self.csv.close()


def _loop(run: _Run, dataset: Dataset, val_data: Sequence[tuple[Tensor, Tensor]], num_workers: int,
          outputs: _Outputs, data_wait: list[float]) -> tuple[Path | None, bool]:
    """Train to ``train.steps`` (or ``stop_after``, or the budget); returns ``(last checkpoint, budget hit)``."""
    t, lg, d = run.t, run.lg, run.d
    sampler = ResumableDistributedSampler(dataset, num_replicas=d.world, rank=d.rank, seed=t.seed)
    limit = t.steps if t.stop_after is None else min(t.steps, t.stop_after)
    budget_hit = run.clock.spent(d)  # a resumed run whose budget is already spent ends at once (final/ from it)
    last_ckpt: Path | None = None
    saved_at = run.step if budget_hit else -1
    while run.step < limit and not budget_hit:
        epoch, pos = divmod(run.step, run.steps_per_epoch)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        sampler.set_epoch(epoch, skip=pos * run.per_rank)
        loader = DataLoader(
            dataset, batch_size=run.per_rank, sampler=sampler, num_workers=num_workers, drop_last=True,
            pin_memory=run.device.type == "cuda",
            generator=torch.Generator().manual_seed(t.seed * 1000003 + epoch * 7919 + d.rank),
        )
        for batch in rt.timed(loader, data_wait):
            _train_step(run, batch)
            outputs.bar.update(1)
            budget_hit = run.clock.spent(d)
            final = run.step >= limit or budget_hit
            do_val = bool(val_data) and (run.step % lg.val_every == 0 or run.step == t.steps or budget_hit)
            if run.step % lg.every == 0 or run.step % lg.val_every == 0 or final:
                outputs.write(_log_row(run, do_val, val_data), do_val)
            if run.step % lg.ckpt_every == 0 or final:
                last_ckpt = _checkpoint(run) or last_ckpt
                saved_at = run.step
            if final:
                break
    if saved_at != run.step and run.step > 0:
        last_ckpt = _checkpoint(run) or last_ckpt
    return last_ckpt, budget_hit


def _save_final(run: _Run) -> Path:
    """``final/``: ``save_pretrained`` output for a library model, else weights + metadata."""
    from stvsr_blocks.models import MBnetConfig, save_pretrained

    extra = {"run": run.name, "step": run.step, **run.metadata}
    if isinstance(getattr(run.model, "config", None), MBnetConfig):
        return save_pretrained(run.model, run.out / "final", extra=extra)
    import json

    from safetensors.torch import save_file

    final = run.out / "final"
    weights = {k: v.detach().contiguous().cpu() for k, v in run.model.state_dict().items()}
    atomic_write(final / "model.safetensors", lambda p: save_file(weights, str(p)))
    atomic_write(final / "config.json", lambda p: p.write_text(
        json.dumps({"format": "stvsr_blocks/1", "extra": extra}, indent=2), encoding="utf-8"))
    return final


def fit(
    model: nn.Module,
    loss: Callable[..., Any],
    train_data: Dataset,
    *,
    out_dir: str | os.PathLike[str],
    val_data: Sequence[tuple[Tensor, Tensor]] = (),
    train: TrainSection | None = None,
    log: LogSection | None = None,
    ddp: DDPSection | None = None,
    resume: str | os.PathLike[str] | None = None,
    name: str = "run",
    num_workers: int = 0,
    config: Any = None,
    metadata: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ready-built parts (single process, or one rank of a ``torchrun`` job); see the module docstring.

    Args:
        model: the model (moved to ``train.device``; wrapped in ``DistributedDataParallel`` under ``torchrun``).
        loss: ``loss(output, hr, lr, flows=, flow_mask=)`` returning named terms with ``total``.
        train_data: the training ``Dataset``.
        out_dir: run folder (created); rank 0 writes ``log.csv``, ``tb/``, ``curves.png``, ``checkpoints/``,
            ``final/`` and, with ``config``, ``config.yaml`` there.
        val_data: ``[(lr, hr)]`` validation windows (empty: no validation).
        train: optimisation, schedule, AMP, device, seed, ``stop_after``, ``budget_s``; default
            ``TrainSection()``.
        log: log, validation and checkpoint cadence; default ``LogSection()``.
        ddp: process-group backend and ``find_unused_parameters``; default ``DDPSection()``.
        resume: ``None`` (fresh start; an existing checkpoint in ``out_dir`` is an error), ``"auto"`` (the
            latest intact checkpoint in ``out_dir``, or a fresh start without one) or a checkpoint/run folder.
        name: run name (progress bar, curves title, checkpoint metadata).
        num_workers: ``DataLoader`` worker processes per rank.
        config: the run's config (a dataclass or mapping), saved as ``config.yaml`` and in every checkpoint
            (``None``: neither).
        metadata: JSON-able data stored in every checkpoint's ``config.json`` ``extra`` and ``state.pt``.
        progress: show a tqdm progress bar (rank 0).

    Returns:
        The :class:`TrainResult`.

    Raises:
        TypeError: if a part has the wrong type.
        ConfigError: on inconsistent settings (batch size not divisible by the world size, dataset smaller
            than one global batch, CUDA requested but missing, no trainable parameters).
        FileExistsError: if ``resume`` is ``None`` and ``out_dir`` already has checkpoints.
        FileNotFoundError: if ``resume`` names no checkpoint.
        FloatingPointError: if the loss becomes non-finite.
    """
    t, lg, dd = train or TrainSection(), log or LogSection(), ddp or DDPSection()
    for arg, value, want in (("model", model, nn.Module), ("train_data", train_data, Dataset),
                             ("train", t, TrainSection), ("log", lg, LogSection), ("ddp", dd, DDPSection)):
        if not isinstance(value, want):
            raise TypeError(f"{arg}: expected a {want.__name__}, got {type(value).__name__}")
    if not callable(loss):
        raise TypeError(f"loss: expected a callable returning named terms, got {type(loss).__name__}")
    hint = t.device if t.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    d = rt.setup_distributed(dd.backend, hint)
    try:
        return _fit(model, loss, train_data, val_data, t, lg, dd, Path(out_dir), resume, name, num_workers,
                    config, dict(metadata or {}), progress, d)
    finally:
        if d.created and dist.is_initialized():
            dist.destroy_process_group()


def _fit(model: nn.Module, loss: Any, dataset: Dataset, val_data: Sequence[tuple[Tensor, Tensor]], t: TrainSection,
         lg: LogSection, dd: DDPSection, out: Path, resume: Any, name: str, num_workers: int, config: Any,
         metadata: dict[str, Any], progress: bool, d: rt.Dist) -> TrainResult:
    run, ckpt_path = _prepare(model, loss, t, lg, dd, out, resume, name, config, metadata, d)
    _restore(run, ckpt_path)
    if d.world > 1:
        run.ddp_model = nn.parallel.DistributedDataParallel(
            run.model, device_ids=[run.device.index] if run.device.type == "cuda" else None,
            find_unused_parameters=dd.find_unused_parameters)
    run.model.train()
    n_samples = ResumableDistributedSampler(dataset, num_replicas=d.world, rank=d.rank, seed=t.seed).num_samples
    run.steps_per_epoch = n_samples // run.per_rank
    if run.steps_per_epoch < 1:
        raise ConfigError(f"data: {len(dataset)} training samples are fewer than one global batch "  # type: ignore[arg-type]
                          f"({t.batch_size}); add clips or lower train.batch_size")
    val_data = list(val_data) if run.is_main else []
    outputs = _Outputs(run, progress)
    run.t_start = run.t_log = time.perf_counter()
    run.step_log = run.step
    run.clock.start(run.elapsed_before)
    data_wait = [0.0]
    try:
        last_ckpt, budget_hit = _loop(run, dataset, val_data, num_workers, outputs, data_wait)
    finally:
        outputs.close()
    final_dir = None
    if run.is_main:
        last_ckpt = last_ckpt or latest_checkpoint(out)
        if lg.curves and run.history:
            plot_training_curves(run.history, out / "curves.png", title=name)
        if run.step >= t.steps or budget_hit:
            final_dir = _save_final(run)
    rt.barrier(d)
    return TrainResult(out_dir=out, checkpoint=last_ckpt if run.is_main else None, final_dir=final_dir,
                       step=run.step, history=run.history, world_size=d.world,
                       loop_s=time.perf_counter() - run.t_start, data_wait_s=data_wait[0])
