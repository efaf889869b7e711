"""Compare the shipped model with bicubic-blend, bicubic-flow and FFmpeg's own filters, in one run.

Evaluates every model on the same clips with the same protocol (``stvsr-vid4``: LR = odd frames
downscaled ×¼ with the PIL bicubic kernel, Y-PSNR / SSIM after uint8 rounding, super-resolved and
interpolated frames reported separately):

(a) held-out photo clips: photo-textured video rendered from the ``test`` photographs, which no model
    was trained on (:mod:`stvsr_blocks.data.photo`);
(b) any real video files given with ``--video`` (their first ``--max-frames`` frames, trimmed to an odd
    count so every interpolated frame has ground truth).

FFmpeg's pipeline is ``scale=W:H:flags=lanczos,format=yuv444p,minterpolate=fps=2r:mi_mode=mci:
mc_mode=aobmc:me_mode=bidir:vsbmc=1`` through PyAV's bundled libavfilter, run over each whole clip
(:class:`stvsr_blocks.baselines.FFmpegBaseline`).

Writes ``<out>.json`` (every figure, per clip, with the command line, commit and versions) and
``<out>.md`` (the docs table)::

    python benchmarks/compare_shipped.py --video carphone.mp4 --video bikes.mp4 --out docs/models/mbnet_photo_eval
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from stvsr_blocks.metrics import get_protocol
from stvsr_blocks.recipe import report
from stvsr_blocks.recipe.evaluate import EvalClip, evaluate_models, iter_clips, load_model, model_info, result_entry

ROOT = Path(__file__).resolve().parents[1]
BASELINE_NAMES = ("bicubic-blend", "bicubic-flow", "ffmpeg")


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _odd(clip: EvalClip) -> EvalClip:
    t = clip.hr.shape[0]
    return clip if t % 2 else replace(clip, hr=clip.hr[: t - 1])


def evaluate_set(models: dict, clips: list[EvalClip], *, kernel: str = "pil", tile: int = 0) -> list[dict]:
    """Scores of every model on ``clips`` (one :func:`result_entry` per model).

    Args:
        models: ``{label: model}``.
        clips: the clips.
        kernel: LR kernel.
        tile: LR tile size for the learned model (0: whole frames).

    Returns:
        One result entry per model.
    """
    from stvsr_blocks.inference import TileConfig

    protocol = get_protocol("stvsr-vid4")
    tiles = TileConfig(tile=tile, overlap=16) if tile else None
    scores = evaluate_models(models, clips, protocol, lr_kernel=kernel, tiles=tiles,
                             progress=lambda line: print("   ", line, flush=True))
    return [result_entry(model_info(m) | {"name": label}, scores[label]) for label, m in models.items()]


def _row(res: dict, ref: dict | None) -> list[str]:
    cells = []
    for group in ("vsr", "vfi"):
        g = res["overall"].get(group, {})
        p, s = g.get("psnr_y"), g.get("ssim_y")
        cell = f"{p:.2f} / {s:.4f}" if p is not None else "–"
        if ref is not None and p is not None:
            d = p - ref["overall"][group]["psnr_y"]
            cell += f" ({d:+.2f})"
        cells.append(cell)
    return cells


def markdown(sets: list[dict]) -> str:
    """The docs table: per evaluation set, Y-PSNR / SSIM of super-resolved and interpolated frames.

    Args:
        sets: ``[{"name", "description", "results"}]``.

    Returns:
        Markdown text.
    """
    lines = []
    for st in sets:
        res = {r["model"]["name"]: r for r in st["results"]}
        ref = res.get("ffmpeg")
        lines += [f"**{st['name']}** — {st['description']}", "",
                  "| model | parameters | super-resolved frames: Y-PSNR / SSIM (Δ vs FFmpeg) | "
                  "interpolated frames: Y-PSNR / SSIM (Δ vs FFmpeg) |", "|---|---|---|---|"]
        for name, r in res.items():
            cells = _row(r, ref if name != "ffmpeg" else None)
            lines.append(f"| {name} | {r['model']['parameters']:,} | {cells[0]} | {cells[1]} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison.

    Args:
        argv: command line.

    Returns:
        0 on success.
    """
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mbnet-photo", help="shipped model name or checkpoint (default mbnet-photo)")
    ap.add_argument("--video", action="append", default=[], type=Path, help="a real video file (repeatable)")
    ap.add_argument("--max-frames", type=int, default=41, help="frames per video (default 41)")
    ap.add_argument("--photo-clips", type=int, default=6, help="held-out photo clips (default 6; 0 skips them)")
    ap.add_argument("--photo-size", default="144x176", help="HR size of the photo clips, HxW (default 144x176)")
    ap.add_argument("--photo-frames", type=int, default=9, help="HR frames per photo clip (odd; default 9)")
    ap.add_argument("--tile", type=int, default=0, help="LR tile for large videos (default 0: whole frames)")
    ap.add_argument("--out", type=Path, default=Path("outputs/compare_shipped"), help="output stem (.json, .md)")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    models = {"mbnet-photo" if args.model == "mbnet-photo" else str(args.model): load_model(args.model)}
    for name in BASELINE_NAMES:
        models[name] = load_model(name)
    sets = []
    t0 = time.perf_counter()
    if args.photo_clips:
        h, w = (int(v) for v in args.photo_size.lower().split("x"))
        n, it = iter_clips("photos", None, synthetic_clips=args.photo_clips, synthetic_size=(h, w),
                           synthetic_frames=args.photo_frames)
        clips = [_odd(c) for c in it]
        print(f"held-out photo clips: {n} x {args.photo_frames} frames of {h}x{w}", flush=True)
        sets.append({"name": "held-out photo clips",
                     "description": f"{n} clips of {args.photo_frames} frames, {h}×{w}, rendered from the test "
                                    "photos (coffee, rocket), never trained on",
                     "results": evaluate_set(models, clips, tile=args.tile)})
    for path in args.video:
        _, it = iter_clips("video", path, max_frames=args.max_frames)
        clips = [_odd(c) for c in it]
        c = clips[0]
        print(f"{path.name}: {c.hr.shape[0]} frames of {c.hr.shape[-2]}x{c.hr.shape[-1]}", flush=True)
        sets.append({"name": path.name,
                     "description": f"real video, first {c.hr.shape[0]} frames, HR {c.hr.shape[-1]}×{c.hr.shape[-2]} "
                                    f"(LR input {c.hr.shape[-1] // 4}×{c.hr.shape[-2] // 4})",
                     "results": evaluate_set(models, clips, tile=args.tile)})
    doc = {
        "command": " ".join(["python", "benchmarks/compare_shipped.py", *(argv if argv is not None else sys.argv[1:])]),
        "commit": _commit(),
        "torch": torch.__version__,
        "protocol": "stvsr-vid4, LR kernel pil (odd frames x1/4), Y-PSNR/SSIM after uint8 rounding, crop 0",
        "ffmpeg_filters": "scale=lanczos, format=yuv444p, minterpolate=mci/aobmc/bidir/vsbmc=1 (PyAV libavfilter)",
        "runtime_s": round(time.perf_counter() - t0, 1),
        "sets": sets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report.write_json(args.out.with_suffix(".json"), doc)
    text = markdown(sets)
    report.write_text(args.out.with_suffix(".md"), text)
    print(text)
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
