"""Train an MBnet model: ``stvsr train --config cpu_small`` (or ``python recipes/mbnet.py train ...``).

:func:`train` is a thin builder: it builds the model, the loss, the training data and the validation
clips a :class:`~stvsr_blocks.recipe.config.TrainRunConfig` describes and hands them to
:func:`stvsr_blocks.recipe.fit.fit`, which owns the loop (exact resume, DDP, AMP, logging, atomic
checkpoints). A model of your own goes to :func:`~stvsr_blocks.recipe.fit.fit` directly.

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
import dataclasses
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import Dataset

from stvsr_blocks.configs import resolve_config_path
from stvsr_blocks.losses import LossTerms
from stvsr_blocks.recipe import _runtime
from stvsr_blocks.recipe._runtime import ResumableDistributedSampler, log_columns, plot_training_curves
from stvsr_blocks.recipe.checkpoint import CheckpointError
from stvsr_blocks.recipe.config import (
    ConfigError,
    ModelSection,
    TrainRunConfig,
    config_to_dict,
    leaf_fields,
    load_config,
    read_config_file,
)
from stvsr_blocks.recipe.fit import RUN_CONFIG as _RUN_CONFIG
from stvsr_blocks.recipe.fit import TrainResult, _psnr_rgb, fit, lr_lambda, validate

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
    "plot_training_curves",
    "train",
    "config_from_args",
    "add_arguments",
    "main",
]

#: Loss terms of :class:`stvsr_blocks.losses.LossTerms` (its fields, ``total`` first), logged every
#: ``log.every`` steps.
LOSS_TERMS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LossTerms))

#: Columns of ``log.csv`` of an MBnet run (``loss`` is the total; empty cells where a value was not measured).
LOG_COLUMNS: tuple[str, ...] = log_columns(LOSS_TERMS)


def __getattr__(name: str) -> Any:
    if name == "psnr":  # the recipe's old public validation PSNR: a private helper of recipe.fit now
        warnings.warn("stvsr_blocks.recipe.train.psnr is deprecated: use stvsr_blocks.metrics.psnr(..., "
                      "channel='rgb', round_uint8=False) for image quality; validate() keeps its numbers",
                      DeprecationWarning, stacklevel=2)
        return _psnr_rgb
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_resolve_device = _runtime.resolve_device  # used by stvsr_blocks.recipe.device


# --------------------------------------------------------------------------------------------- pieces
def build_model_from_config(section: ModelSection, *, seed: int | None = None) -> nn.Module:
    """Build the model of a :class:`~stvsr_blocks.recipe.config.ModelSection` (once, from its resolved config).

    Args:
        section: preset, variant and :class:`~stvsr_blocks.models.MBnetConfig` overrides.
        seed: seed the global torch RNG right before the build (deterministic initial weights).

    Returns:
        The model (with ``model.config``).

    Raises:
        ConfigError: on an unknown variant or override key.
    """
    from stvsr_blocks.models import build_model

    cfg = section.model_config()
    if seed is not None:
        torch.manual_seed(seed)
    return build_model(cfg)


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
                                   config=d.synthetic.video_config(), seed=d.synthetic.seed)
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
                                   config=d.synthetic.video_config())
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


def _build_loss(cfg: TrainRunConfig, device: torch.device) -> nn.Module:
    from stvsr_blocks.losses import MBnetLoss

    lc = cfg.loss.loss_config()
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


# --------------------------------------------------------------------------------------------- train()
def train(cfg: TrainRunConfig, *, out_dir: str | os.PathLike[str], resume: str | os.PathLike[str] | None = None,
          progress: bool = True) -> TrainResult:
    """Train the model ``cfg`` describes (single process, or one rank of a ``torchrun`` job).

    Builds the model (seeded with ``train.seed``), the loss (with the RAFT teacher where needed), the
    training dataset and, on rank 0, the validation clips, then runs :func:`stvsr_blocks.recipe.fit.fit`
    with ``cfg.train``, ``cfg.log`` and ``cfg.ddp``; the checkpoints record ``cfg`` and the model config,
    so ``eval``/``upscale``/``load_pretrained`` rebuild the model from them.

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
    t = cfg.train
    hint = t.device if t.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    d = _runtime.setup_distributed(cfg.ddp.backend, hint)
    try:
        device = _runtime.resolve_device(t.device, d.local_rank)
        model = build_model_from_config(cfg.model, seed=t.seed)  # deterministic init, identical on every rank
        loss_fn = _build_loss(cfg, device)
        dataset = build_train_dataset(cfg)
        val_clips = build_validation_clips(cfg) if d.rank == 0 else []
        return fit(model, loss_fn, dataset, val_data=val_clips, out_dir=out_dir, train=t, log=cfg.log, ddp=cfg.ddp,
                   resume=resume, name=cfg.name, num_workers=cfg.data.num_workers, config=cfg, progress=progress)
    finally:
        if d.created and dist.is_initialized():
            dist.destroy_process_group()


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
