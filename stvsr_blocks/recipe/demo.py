"""The embedded default: train a small MBnet on photo-textured video, compare it with the baselines, write a report.

Needs no data and no GPU::

    python recipes/mbnet.py demo                 # a few minutes on 2 CPU cores
    python recipes/mbnet.py demo --steps 2000    # longer training, better numbers
    python recipes/mbnet.py demo --quick         # seconds: a smoke test of the whole pipeline

Steps:

1. train a small MBnet (the shipped model's structure — classical LR flow, PAC refiner, RDN, GridNet
   with a time input — at ≈0.5M parameters) on the built-in photo-textured videos
   (:mod:`stvsr_blocks.data.photo`: the scikit-image photographs under known motion, random ``t``) with
   the train recipe's Python API (:func:`stvsr_blocks.recipe.train.train`), into ``<out>/run/``;
2. evaluate it with the ``stvsr-vid4`` protocol and the PIL bicubic kernel (odd frames in, all frames
   scored, Y and RGB PSNR/SSIM) on held-out photo clips (the ``test`` photos, never trained on), next to
   the ``bicubic-blend`` and ``bicubic-flow`` baselines and, when its weights are installed, the shipped
   model ``mbnet-photo``;
3. write the report folder (default ``outputs/demo/``): ``metrics.md`` / ``metrics.json``,
   ``curves.png`` (training history, one panel per quantity), ``crops.png`` (LR / baselines / shipped
   model / demo model / ground truth for one VSR and one VFI frame), ``lr_input.mp4`` and
   ``upscaled.mp4`` (a held-out clip's LR frames upscaled ×4 in space and ×2 in time by the trained model).

The numbers show the pipeline learns in minutes; they are not the paper's (train on Vimeo-90K for those).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from stvsr_blocks.recipe import report

__all__ = ["DEMO_MODEL_OVERRIDES", "DemoSettings", "demo_settings", "run_demo", "add_arguments", "main"]

#: MBnetConfig overrides of the demo model: the tiny preset with the shipped model's choices — the
#: classical LR flow, residual outputs (the untrained model starts near bicubic + flow warp) and a VFI
#: net that takes the time ``t`` — and a wider VSR net.
DEMO_MODEL_OVERRIDES: dict[str, Any] = {
    "name": "mbnet-demo",
    "flow_kind": "classical",
    "vsr": {"D": 3, "C": 3, "G0": 32, "G": 32, "residual": True},
    "vfi": {"widths": [8, 16, 24], "feature_channels": 32, "residual": True, "time_input": True},
}


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of one demo run.

    Args:
        steps: training steps.
        batch_size: training batch size.
        lr_patch: LR training patch side.
        train_clips: rendered training clips (photo-textured windows).
        train_size: rendered training frame side (HR).
        eval_clips: held-out evaluation clips.
        eval_size: evaluation frame side (HR).
        eval_frames: frames per evaluation clip.
        video_size: HR side of the clip that is upscaled (its LR input is a quarter of it).
        video_frames: LR frames of the upscaled clip.
        log_every: logging / validation cadence in steps.
    """

    steps: int = 600
    batch_size: int = 8
    lr_patch: int = 16
    train_clips: int = 4800
    train_size: int = 80
    eval_clips: int = 4
    eval_size: int = 128
    eval_frames: int = 7
    video_size: int = 128
    video_frames: int = 8
    log_every: int = 10


def demo_settings(*, quick: bool = False, steps: int | None = None) -> DemoSettings:
    """The default (about 3-5 minutes on 2 CPU cores) or the ``--quick`` settings.

    Args:
        quick: tiny sizes for a smoke test (seconds).
        steps: override the number of training steps.

    Returns:
        The settings.
    """
    s = DemoSettings()
    if quick:
        s = DemoSettings(steps=2, batch_size=2, lr_patch=8, train_clips=4, train_size=40, eval_clips=1, eval_size=48,
                         eval_frames=5, video_size=64, video_frames=3, log_every=1)
    if steps is not None:
        s = DemoSettings(**{**s.__dict__, "steps": int(steps), "log_every": max(1, min(s.log_every, int(steps)))})
    return s


def _train_config(s: DemoSettings, seed: int) -> Any:
    from stvsr_blocks.data.photo import PhotoVideoConfig
    from stvsr_blocks.recipe.config import (
        DataSection,
        LogSection,
        LossSection,
        ModelSection,
        TrainRunConfig,
        TrainSection,
    )

    return TrainRunConfig(
        name="demo",
        # residual outputs (A11 options) and the classical flow: the untrained model starts near
        # bicubic + flow warp, so a few minutes of CPU training improve on a sensible starting point
        model=ModelSection(preset="tiny", variant="mbnet", overrides=DEMO_MODEL_OVERRIDES),
        data=DataSection(layout="photos", lr_patch=s.lr_patch, kernel="pil", num_workers=0,
                         photos=PhotoVideoConfig(height=s.train_size, width=s.train_size, seed=seed),
                         n_clips=s.train_clips, random_time=True, val_clips=2, val_crop=min(64, s.train_size)),
        loss=LossSection(lambda_b=0.1),
        train=TrainSection(steps=s.steps, batch_size=s.batch_size, lr=1e-3, scheduler="cosine", min_lr=1e-5,
                           grad_clip=1.0, device="cpu", seed=seed),
        log=LogSection(every=s.log_every, val_every=max(s.log_every, s.steps // 5), ckpt_every=s.steps, keep_last=1,
                       tensorboard=False, curves=False),
    )


def _detail_box(x: Tensor, size: int, step: int = 4) -> tuple[int, int]:
    """Top-left corner (multiple of ``step``) of the ``size``×``size`` window of ``x`` with the most detail
    (mean absolute gradient), so the crops show where the models differ."""
    g = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(0)[:-1] + (x[..., 1:, :] - x[..., :-1, :]).abs().mean(0)[:, :-1]
    h, w = g.shape
    best, box = -1.0, (0, 0)
    for top in range(0, max(1, h - size + 1), step):
        for left in range(0, max(1, w - size + 1), step):
            v = float(g[top : top + size, left : left + size].mean())
            if v > best:
                best, box = v, (top, left)
    return box


def _crop(x: Tensor, box: tuple[int, int], size: int, scale: int = 1) -> Tensor:
    top, left = box[0] // scale, box[1] // scale
    return x[..., top : top + size // scale, left : left + size // scale]


def run_demo(
    out_dir: str | Path = "outputs/demo",
    *,
    settings: DemoSettings | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Path]:
    """Run the demo end to end and write the report folder.

    Args:
        out_dir: report folder (its ``run/`` sub-folder, the training run, is replaced).
        settings: sizes; default :func:`demo_settings`.
        seed: seed of the training data, initialisation and data order.
        progress: show progress bars.

    Returns:
        ``{"metrics_md", "metrics_json", "curves", "crops", "video", "lr_video", "checkpoint"}`` paths.
    """
    import stvsr_blocks
    from stvsr_blocks.data.degrade import Degradation
    from stvsr_blocks.data.photo import PhotoVideoConfig, PhotoVideoDataset, render_photo_clip
    from stvsr_blocks.data.video import VideoWriter
    from stvsr_blocks.metrics import get_protocol
    from stvsr_blocks.pretrained import DEFAULT_MODEL
    from stvsr_blocks.recipe.evaluate import (
        EvalClip,
        UserError,
        evaluate_models,
        load_model,
        model_info,
        protocol_dict,
        result_entry,
        write_report,
    )
    from stvsr_blocks.recipe.train import train
    from stvsr_blocks.recipe.upscale import upscale_video

    s = settings or demo_settings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()

    # 1. train
    run_dir = out / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    print(f"[1/4] training the demo MBnet for {s.steps} steps on photo-textured video (batch {s.batch_size}, "
          f"LR patch {s.lr_patch}) -> {run_dir}", flush=True)
    t0 = time.perf_counter()
    result = train(_train_config(s, seed), out_dir=run_dir, progress=progress)
    ckpt = result.final_dir or result.checkpoint
    print(f"      done in {time.perf_counter() - t0:.0f}s; checkpoint {ckpt}", flush=True)
    model = load_model(ckpt)
    model.config.name = "mbnet-demo"

    # 2. evaluate against the baselines (and the shipped model when its weights are installed)
    protocol = get_protocol("stvsr-vid4")
    kernel = "pil"
    models = {"bicubic-blend": load_model("bicubic-blend"), "bicubic-flow": load_model("bicubic-flow")}
    try:
        models[DEFAULT_MODEL] = load_model(DEFAULT_MODEL)
    except UserError as exc:
        print(f"      (shipped model not shown: {exc})", file=sys.stderr)
    models["mbnet-demo"] = model
    cfg = PhotoVideoConfig(height=s.eval_size, width=s.eval_size, times=tuple(k / 2 for k in range(s.eval_frames)))
    ds = PhotoVideoDataset("test", s.eval_clips, cfg, seed=seed)
    clips = [EvalClip(ds[i].name, ds[i].hr) for i in range(len(ds))]
    show = {clips[0].name: {}}  # (label, frame) -> prediction, for the crops figure
    vsr_f, vfi_f = (2, 3) if s.eval_frames >= 4 else (0, 1)

    def keep(label: str, clip: str, frame: int, pred: Tensor) -> None:
        if clip in show and frame in (vsr_f, vfi_f):
            show[clip][(label, frame)] = pred.cpu()

    print(f"[2/4] evaluating on {len(clips)} held-out photo clips ({s.eval_size}x{s.eval_size}, "
          f"{s.eval_frames} frames; test photos never trained on) with protocol {protocol.name}, LR kernel {kernel}",
          flush=True)
    scores = evaluate_models(models, clips, protocol, lr_kernel=kernel, keep=keep)
    results = [result_entry(model_info(m), scores[label]) for label, m in models.items()]
    meta = {
        "library": {"name": "stvsr_blocks", "version": stvsr_blocks.__version__, "torch": torch.__version__},
        "protocol": protocol_dict(protocol),
        "lr": {"kernel": kernel, "degradation": Degradation(4, kernel).name, "source": "generate"},
        "windows": {"overlap": "first"},
        "dataset": {"layout": "photos", "root": None, "split": "test", "n_clips": len(clips),
                    "size": [s.eval_size, s.eval_size], "frames": s.eval_frames},
        "training": {"steps": result.step, "settings": s.__dict__, "seed": seed, "run_dir": str(run_dir)},
    }
    jp, mp, _ = write_report(out, results, meta, title="stvsr_blocks demo: a small MBnet vs. baselines on held-out photo clips")

    # 3. figures
    print("[3/4] writing figures", flush=True)
    curves = out / "curves.png"
    try:
        report.plot_curves(result.history, curves, title=f"demo MBnet on photo-textured video ({result.step} steps)")
    except (ValueError, ImportError) as exc:
        print(f"      no curves.png: {exc}", file=sys.stderr)
        curves = None  # type: ignore[assignment]
    hr = clips[0].hr
    deg = Degradation(4, kernel)
    crop = 64
    rows = []
    box = _detail_box(hr[vsr_f], min(crop, hr.shape[-2], hr.shape[-1]))
    for f, kind in ((vsr_f, "VSR"), (vfi_f, "VFI")):
        lr_idx = f if f % 2 == 0 else f - 1
        lr = deg(hr[lr_idx])
        panels = [(f"LR (frame {lr_idx})", _crop(lr, box, crop, 4))]
        for label in models:
            panels.append((label, _crop(show[clips[0].name][(label, f)], box, crop)))
        panels.append(("ground truth", _crop(hr[f], box, crop)))
        rows.append((f"{kind} frame {f}", panels))
    crops = report.crop_grid(rows, out / "crops.png")

    # 4. upscale a clip with the trained model
    print("[4/4] upscaling a held-out clip x4 in space, x2 in time", flush=True)
    vtimes = tuple(k / 2 for k in range(2 * s.video_frames - 1))
    vclip = render_photo_clip("test", PhotoVideoConfig(height=s.video_size, width=s.video_size, times=vtimes,
                                                       seed=2_000_000 + seed))
    lr_video = out / "lr_input.mp4"
    with VideoWriter(lr_video, fps=12) as w:
        for i in range(0, vclip.hr.shape[0], 2):
            w.write(deg(vclip.hr[i]))
    video = upscale_video(lr_video, out / "upscaled.mp4", model=model, overwrite=True, progress=progress).output

    paths = {"metrics_md": mp, "metrics_json": jp, "curves": curves, "crops": crops, "video": video,
             "lr_video": lr_video, "checkpoint": Path(ckpt)}
    print()
    print(report.metrics_table(results, ["psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"]))
    print(f"demo finished in {time.perf_counter() - t_all:.0f}s. Report folder: {out}")
    for key, label in (("metrics_md", "metrics table"), ("metrics_json", "metrics (JSON)"), ("curves", "training curves"),
                       ("crops", "side-by-side crops"), ("video", "upscaled clip"), ("lr_video", "its LR input"),
                       ("checkpoint", "trained model")):
        if paths[key] is not None:
            print(f"  {label:<20} {paths[key]}")
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``demo`` options.

    Args:
        parser: the sub-command parser.
    """
    parser.add_argument("--out", type=Path, default=Path("outputs/demo"), help="report folder (default outputs/demo)")
    parser.add_argument("--steps", type=int, help="training steps (default 600: about 4 minutes on 2 CPU cores)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 steps: a smoke test in seconds")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    """Run the ``demo`` sub-command.

    Args:
        args: parsed arguments.

    Returns:
        0 on success, 2 on invalid options.
    """
    if args.steps is not None and args.steps < 1:
        print(f"error: --steps: expected a positive number of steps, got {args.steps}", file=sys.stderr)
        return 2
    from stvsr_blocks.recipe.evaluate import UserError

    try:
        run_demo(args.out, settings=demo_settings(quick=args.quick, steps=args.steps), seed=args.seed,
                 progress=not args.no_progress)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
