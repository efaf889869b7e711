"""One time-boxed training run on a lent GPU machine, and everything needed to judge and adopt its result.

``python -m stvsr_blocks.recipe.device --config mbnet_photo_gpu --budget-s 420 --device cuda --out OUT/run_a``

1. loads the config (a shipped name or a file) and applies ``--set KEY=VALUE`` overrides; the wall-clock
   budget (``train.budget_s``) ends training, and with ``train.schedule_by_time`` the cosine schedule runs
   over that budget (:class:`~stvsr_blocks.recipe.config.TrainSection`);
2. picks the memory format: ``--channels-last auto`` times a few training steps on a random batch in
   both formats (CUDA only) and keeps the faster;
3. checks the ``DataLoader`` workers can start (one batch); if they cannot, trains with ``num_workers=0``
   and says so in the run record;
4. trains with :func:`stvsr_blocks.recipe.train.train` in a scratch folder (``--work-dir``; checkpoints stay
   there);
5. evaluates the result on held-out photo clips (the ``test`` photographs, never trained on) against
   ``bicubic-blend``, ``bicubic-flow`` and, if it loads, the shipped ``mbnet-photo`` — protocol
   ``stvsr-vid4`` with the PIL kernel, as ``benchmarks/compare_shipped.py`` minus FFmpeg (the GPU machine
   has no PyAV);
6. times the trained model's inference on one LR frame pair (``--speed-size``);
7. writes exactly four files into ``--out``: ``model.safetensors`` and ``config.json`` (a
   :func:`stvsr_blocks.models.load_pretrained` folder), ``log.csv`` (loss / validation log) and ``run.json``
   (config, commit, source hash, steps, samples/s, data-wait share, GPU name, versions, timings, the
   evaluation, the speed and the log rows).

Nothing here imports PyAV or kornia. ``recipes/device_train.sh`` runs the two prepared runs in one call;
``docs/guides/gpu_training.md`` says how to call it and adopt the result.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

__all__ = ["RUN_FILES", "RUN_FIELDS", "parse_args", "source_sha256", "measure_channels_last", "run", "main"]

#: The files :func:`run` writes into ``--out``.
RUN_FILES: tuple[str, ...] = ("model.safetensors", "config.json", "log.csv", "run.json")

#: Top-level keys of ``run.json``.
RUN_FIELDS: tuple[str, ...] = (
    "command", "config", "commit", "source_sha256", "device", "gpu_name", "torch", "python", "platform",
    "budget_s", "steps", "batch_size", "samples", "loop_s", "samples_per_s", "data_wait_s", "data_wait_share",
    "num_workers", "channels_last", "amp", "final_val_psnr", "final_val_psnr_mid", "timings_s", "evaluation",
    "speed", "weights_bytes", "log",
)

_ROOT = Path(__file__).resolve().parents[2]
#: Largest file the device tool returns (16 MiB).
_RETURN_LIMIT = 16 * 2**20


def _size(text: str, name: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: expected HxW such as 144x176, got {text!r}") from None
    if h < 8 or w < 8:
        raise argparse.ArgumentTypeError(f"{name}: expected both sides >= 8, got {text!r}")
    return h, w


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: the arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The namespace.
    """
    ap = argparse.ArgumentParser(prog="python -m stvsr_blocks.recipe.device", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="mbnet_photo_gpu", help="shipped config name or YAML file")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. --set train.batch_size=64 (repeatable)")
    ap.add_argument("--budget-s", type=float, default=420.0, help="training wall-clock budget (train.budget_s)")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:1 or cpu (train.device)")
    ap.add_argument("--amp", choices=["auto", "none", "bf16", "fp16"], default="auto",
                    help="mixed precision (auto: bf16 on CUDA, none on CPU)")
    ap.add_argument("--channels-last", choices=["auto", "on", "off"], default="auto",
                    help="memory format (auto: measured on CUDA, off on CPU)")
    ap.add_argument("--out", type=Path, required=True, help="folder of the four result files")
    ap.add_argument("--work-dir", type=Path, help="scratch run folder (default: a temporary folder)")
    ap.add_argument("--commit", default=os.environ.get("STVSR_COMMIT"),
                    help="commit recorded in run.json (default $STVSR_COMMIT, else git if available)")
    ap.add_argument("--eval-clips", type=int, default=6, help="held-out photo clips (0 skips the evaluation)")
    ap.add_argument("--eval-size", type=lambda s: _size(s, "--eval-size"), default=(144, 176),
                    help="HR size of the photo clips, HxW (default 144x176, as compare_shipped.py)")
    ap.add_argument("--eval-frames", type=int, default=9, help="HR frames per clip (odd; default 9)")
    ap.add_argument("--compare", action="append", default=None,
                    help="reference models to evaluate too (default: bicubic-blend, bicubic-flow, mbnet-photo)")
    ap.add_argument("--speed-size", type=lambda s: _size(s, "--speed-size"), default=(180, 320),
                    help="LR size of the inference timing, HxW (default 180x320: 720p output)")
    ap.add_argument("--speed-reps", type=int, default=10, help="timed inference repetitions (0 skips)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.budget_s <= 0:
        ap.error(f"--budget-s: expected a positive number of seconds, got {args.budget_s}")
    if args.eval_frames < 3 or args.eval_frames % 2 == 0:
        ap.error(f"--eval-frames: expected an odd count >= 3, got {args.eval_frames}")
    if args.eval_clips < 0 or args.speed_reps < 0:
        ap.error(f"--eval-clips/--speed-reps: expected >= 0, got {args.eval_clips}/{args.speed_reps}")
    return args


def source_sha256(root: str | os.PathLike[str] | None = None) -> str:
    """SHA-256 over the library's Python sources and configs (names and bytes, sorted): identifies the code
    where the working-tree copy has no ``.git``.

    Args:
        root: the repository root (default: the one holding this module).

    Returns:
        The hex digest.
    """
    base = Path(root) if root is not None else _ROOT
    h = hashlib.sha256()
    for p in sorted((base / "stvsr_blocks").rglob("*")):
        if p.is_file() and p.suffix in (".py", ".yaml"):
            h.update(p.relative_to(base).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=_ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_channels_last(cfg: Any, device: torch.device, *, steps: int = 6, warmup: int = 3) -> dict[str, float]:
    """Seconds per training step (forward, loss, backward, optimizer) on a random batch in each memory format.

    Args:
        cfg: the run config (model, patch size, batch size, AMP, loss).
        device: where to measure.
        steps: timed steps per format.
        warmup: untimed steps first (cuDNN autotuning).

    Returns:
        ``{"contiguous": s, "channels_last": s}``.
    """
    from stvsr_blocks.data.train import TrainSample
    from stvsr_blocks.recipe.train import _build_loss, build_model_from_config

    d, t = cfg.data, cfg.train
    b, p, s = t.batch_size, d.lr_patch, d.scale
    g = torch.Generator().manual_seed(0)
    batch = TrainSample(lr=torch.rand(b, 2, 3, p, p, generator=g), hr=torch.rand(b, 3, 3, p * s, p * s, generator=g),
                        t=torch.full((b,), 0.5), flows=torch.zeros(b, 2, 2, p * s, p * s),
                        flow_mask=torch.ones(b, 2, 1, p * s, p * s, dtype=torch.bool))
    batch = TrainSample(*(x.to(device) for x in batch))
    amp = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[t.amp]
    loss_fn = _build_loss(cfg, device)
    out: dict[str, float] = {}
    for name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
        model = build_model_from_config(cfg.model, seed=0).to(device).to(memory_format=fmt)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        for i in range(warmup + steps):
            if i == warmup:
                _sync(device)
                t0 = time.perf_counter()
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                o = model(batch.lr[:, 0], batch.lr[:, 1], t=batch.t)
                loss = loss_fn(o, batch.hr, batch.lr, flows=batch.flows, flow_mask=batch.flow_mask).total
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        _sync(device)
        out[name] = (time.perf_counter() - t0) / steps
        del model, opt
    return out


def _probe_loader(cfg: Any) -> tuple[int, float, str | None]:
    """Start the configured DataLoader workers and fetch one batch; fall back to 0 workers on failure."""
    from torch.utils.data import DataLoader

    from stvsr_blocks.recipe.train import build_train_dataset

    n = cfg.data.num_workers
    ds = build_train_dataset(cfg)
    if hasattr(ds, "set_epoch"):
        ds.set_epoch(0)
    t0 = time.perf_counter()
    try:
        next(iter(DataLoader(ds, batch_size=cfg.train.batch_size, shuffle=True, num_workers=n, drop_last=True)))
    except Exception as exc:  # noqa: BLE001 - any worker start-up failure means: train without workers
        if n == 0:
            raise
        return 0, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"
    return n, time.perf_counter() - t0, None


def _evaluate(final_dir: Path, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    from stvsr_blocks.metrics import get_protocol
    from stvsr_blocks.recipe.evaluate import evaluate_models, iter_clips, load_model, model_info, result_entry

    names = args.compare if args.compare is not None else ["bicubic-blend", "bicubic-flow", "mbnet-photo"]
    models: dict[str, torch.nn.Module] = {"trained": load_model(final_dir, device=device)}
    skipped = {}
    for name in names:
        try:
            models[name] = load_model(name, device=device)
        except Exception as exc:  # noqa: BLE001 - a missing reference is recorded, not fatal
            skipped[name] = f"{type(exc).__name__}: {exc}"
    h, w = args.eval_size
    n, clips = iter_clips("photos", None, synthetic_clips=args.eval_clips, synthetic_size=(h, w),
                          synthetic_frames=args.eval_frames)
    t0 = time.perf_counter()
    scores = evaluate_models(models, clips, get_protocol("stvsr-vid4"), lr_kernel="pil", device=device,
                             progress=lambda line: print("   eval", line, flush=True))
    results = [result_entry(model_info(m) | {"name": label}, scores[label]) for label, m in models.items()]
    summary = {r["model"]["name"]: {g: r["overall"].get(g, {}).get("psnr_y") for g in ("vsr", "vfi")}
               for r in results}
    return {"set": f"held-out photo clips: {n} clips x {args.eval_frames} frames of {h}x{w} (test photos)",
            "protocol": "stvsr-vid4, LR kernel pil (odd frames x1/4), Y-PSNR/SSIM after uint8 rounding, crop 0",
            "psnr_y": summary, "results": results, "skipped": skipped,
            "runtime_s": round(time.perf_counter() - t0, 1)}


@torch.inference_mode()
def _speed(final_dir: Path, args: argparse.Namespace, device: torch.device, amp: torch.dtype | None) -> dict[str, Any]:
    from stvsr_blocks.models import load_pretrained

    model = load_pretrained(final_dir).to(device).eval()
    h, w = args.speed_size
    x0, x1 = torch.rand(1, 3, h, w, device=device), torch.rand(1, 3, h, w, device=device)
    out: dict[str, Any] = {"lr_size": [h, w], "hr_size": [h * 4, w * 4], "reps": args.speed_reps}
    for label, dtype in (("fp32", None), ("amp", amp)):
        if label == "amp" and dtype is None:
            continue
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            model(x0, x1)
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(args.speed_reps):
                model(x0, x1)
            _sync(device)
        out[f"ms_per_pair_{label}"] = round(1000 * (time.perf_counter() - t0) / args.speed_reps, 2)
    if device.type == "cuda":
        out["max_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train, evaluate, time and write the result files (see the module docstring).

    Args:
        args: from :func:`parse_args`.

    Returns:
        The ``run.json`` document.

    Raises:
        stvsr_blocks.recipe.config.ConfigError: on a bad config or override.
        FileExistsError: if ``--out`` already holds result files.
    """
    import tempfile

    from stvsr_blocks.configs import resolve_config_path
    from stvsr_blocks.recipe.config import TrainRunConfig, config_to_dict, load_config
    from stvsr_blocks.recipe.train import _resolve_device, train

    t_all = time.perf_counter()
    timings: dict[str, float] = {}
    out: Path = args.out
    if any((out / f).exists() for f in RUN_FILES):
        raise FileExistsError(f"--out: {str(out)!r} already holds result files; choose another folder")
    dev_type = torch.device(args.device).type
    amp = args.amp if args.amp != "auto" else ("bf16" if dev_type == "cuda" else "none")
    overrides = [*args.overrides, ("train.device", args.device), ("train.budget_s", args.budget_s),
                 ("train.amp", amp)]
    cfg = load_config(TrainRunConfig, resolve_config_path(args.config), overrides)
    device = _resolve_device(cfg.train.device, 0)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    # ----- memory format
    t0 = time.perf_counter()
    cl_times: dict[str, float] | None = None
    if args.channels_last == "auto":
        if device.type == "cuda":
            cl_times = measure_channels_last(cfg, device)
            cfg.train.channels_last = cl_times["channels_last"] < cl_times["contiguous"]
        else:
            cfg.train.channels_last = False
    else:
        cfg.train.channels_last = args.channels_last == "on"
    timings["channels_last_probe"] = round(time.perf_counter() - t0, 2)

    # ----- data workers
    workers, first_batch_s, loader_error = _probe_loader(cfg)
    cfg.data.num_workers = workers
    timings["loader_probe"] = round(first_batch_s, 2)
    if loader_error:
        print(f"warning: DataLoader workers failed ({loader_error}); training with num_workers=0", flush=True)

    # ----- train
    work = args.work_dir or Path(tempfile.mkdtemp(prefix=f"stvsr_{cfg.name}_"))
    print(f"training {cfg.name}: budget {args.budget_s:.0f}s on {device}, batch {cfg.train.batch_size}, "
          f"amp {amp}, channels_last {cfg.train.channels_last}, {workers} workers, run folder {work}", flush=True)
    t0 = time.perf_counter()
    result = train(cfg, out_dir=work, progress=not args.no_progress)
    timings["train"] = round(time.perf_counter() - t0, 2)
    if result.final_dir is None:  # pragma: no cover - the budget or train.steps always ends with final/
        raise RuntimeError(f"training ended at step {result.step} without final/ weights")
    out.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "config.json"):
        shutil.copyfile(result.final_dir / name, out / name)
    shutil.copyfile(work / "log.csv", out / "log.csv")
    weights_bytes = (out / "model.safetensors").stat().st_size
    if weights_bytes > _RETURN_LIMIT:
        print(f"warning: model.safetensors is {weights_bytes / 2**20:.1f} MiB, over the device tool's 16 MiB "
              "per returned file", flush=True)

    # ----- evaluate, time
    t0 = time.perf_counter()
    evaluation = _evaluate(result.final_dir, args, device) if args.eval_clips else None
    timings["evaluate"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    amp_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    speed = _speed(result.final_dir, args, device, amp_dtype) if args.speed_reps else None
    timings["speed"] = round(time.perf_counter() - t0, 2)
    timings["total"] = round(time.perf_counter() - t_all, 2)

    steps_here = result.step
    samples = steps_here * cfg.train.batch_size
    last_val = next((r for r in reversed(result.history) if "val_psnr" in r), {})
    doc: dict[str, Any] = {
        "command": " ".join(["python -m stvsr_blocks.recipe.device", *getattr(args, "argv", [])]),
        "config": config_to_dict(cfg),
        "commit": args.commit or _git_commit(),
        "source_sha256": source_sha256(),
        "device": str(device),
        "gpu_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "budget_s": args.budget_s,
        "steps": steps_here,
        "batch_size": cfg.train.batch_size,
        "samples": samples,
        "loop_s": round(result.loop_s, 2),
        "samples_per_s": round(samples / max(result.loop_s, 1e-9), 1),
        "data_wait_s": round(result.data_wait_s, 2),
        "data_wait_share": round(result.data_wait_s / max(result.loop_s, 1e-9), 4),
        "num_workers": {"configured": cfg.data.num_workers if not loader_error else None, "used": workers,
                        "error": loader_error},
        "channels_last": {"used": cfg.train.channels_last, "mode": args.channels_last,
                          "s_per_step": cl_times},
        "amp": amp,
        "final_val_psnr": last_val.get("val_psnr"),
        "final_val_psnr_mid": last_val.get("val_psnr_mid"),
        "timings_s": timings,
        "evaluation": evaluation,
        "speed": speed,
        "weights_bytes": weights_bytes,
        "log": result.history,
    }
    (out / "run.json").write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    return doc


def main(argv: list[str] | None = None) -> int:
    """Command-line entry.

    Args:
        argv: the arguments (``None``: ``sys.argv[1:]``).

    Returns:
        0 on success, 2 on a config error or an occupied ``--out``.
    """
    from stvsr_blocks.recipe.config import ConfigError

    args = parse_args(argv)
    try:
        doc = run(args)
    except (ConfigError, FileExistsError, FileNotFoundError) as exc:
        print(f"device: error: {exc}", file=sys.stderr)
        return 2
    ev = (doc["evaluation"] or {}).get("psnr_y", {})
    print(f"done: {doc['steps']} steps, {doc['samples_per_s']} samples/s, data wait {doc['data_wait_share']:.1%}, "
          f"val PSNR {doc['final_val_psnr']}; held-out Y-PSNR (vsr, vfi): {json.dumps(ev)}; wrote {args.out}",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
