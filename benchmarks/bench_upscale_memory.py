#!/usr/bin/env python
"""Peak memory of ``recipes/mbnet.py upscale``: constant in the video length, bounded for 1080p input.

Each measurement runs the real command line in a fresh subprocess and reads that process's peak
resident set size from ``os.wait4`` (``ru_maxrss``), so runs do not share allocator state.

1. **Length**: the same 64×64 LR content as a 10-frame and a 100-frame video (30 with ``--quick``),
   upscaled ×4/×2 to mp4; goal: peak RSS ratio (long / short) < 1.1.
2. **Size**: a 1920×1080 LR video of 3 frames (2 with ``--quick``) upscaled ×4 (7680×4320 output) in
   128-pixel tiles; goal: peak RSS within 8 GiB.

Usage::

    python benchmarks/bench_upscale_memory.py --json outputs/bench_upscale_memory.json
    python benchmarks/bench_upscale_memory.py --quick --model bicubic-flow
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stvsr_blocks.data.video import VideoWriter  # noqa: E402

__all__ = ["make_video", "measure", "main"]


def make_video(path: Path, frames: int, height: int, width: int) -> Path:
    """Write a smooth moving test pattern (streamed, one frame at a time).

    Args:
        path: output video file.
        frames: number of frames.
        height: frame height.
        width: frame width.

    Returns:
        The path.
    """
    ys = torch.linspace(0, 1, height)[:, None]
    xs = torch.linspace(0, 1, width)[None, :]
    with VideoWriter(path, fps=25) as w:
        for t in range(frames):
            s = 0.05 * t
            w.write(torch.stack([
                (0.5 + 0.4 * torch.sin(12 * (xs + s) + 5 * ys)).expand(height, width),
                (0.5 + 0.4 * torch.cos(9 * (ys - s) + 3 * xs)).expand(height, width),
                (0.5 + 0.3 * torch.sin(7 * (xs + ys) + t)).expand(height, width),
            ]))
    return path


def measure(argv: list[str]) -> dict[str, float]:
    """Run ``recipes/mbnet.py upscale ARGV`` in a fresh process and read its peak RSS.

    Args:
        argv: arguments after ``upscale``.

    Returns:
        ``{"peak_rss_mib", "seconds", "returncode"}``.

    Raises:
        RuntimeError: if the command fails.
    """
    cmd = [sys.executable, str(ROOT / "recipes" / "mbnet.py"), "upscale", *argv, "--no-progress", "--overwrite"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}\n{err}")
    return {"peak_rss_mib": usage.ru_maxrss / 1024.0, "seconds": seconds, "returncode": proc.returncode,
            "output": out.strip()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: command-line arguments.

    Returns:
        0 when both goals are met, 1 otherwise.
    """
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="bicubic-blend", help="model spec for upscale (default bicubic-blend)")
    p.add_argument("--quick", action="store_true", help="10 vs 30 frames; 2 frames at 1080p")
    p.add_argument("--skip-1080p", action="store_true", help="only the length test")
    p.add_argument("--size", type=int, default=64, help="LR side of the length test (default 64)")
    p.add_argument("--tile", type=int, default=128, help="LR tile of the 1080p run (default 128)")
    p.add_argument("--json", type=Path, help="write the results to this JSON file")
    args = p.parse_args(argv)

    long_n = 30 if args.quick else 100
    res: dict[str, object] = {
        "model": args.model, "torch": torch.__version__, "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "machine": platform.machine(),
    }
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench_upscale_") as tmp:
        d = Path(tmp)
        runs = {}
        for n in (10, long_n):
            src = make_video(d / f"in_{n}.mp4", n, args.size, args.size)
            r = measure([str(src), "--out", str(d / f"out_{n}.mp4"), "--model", args.model])
            runs[n] = r
            print(f"{n:4d} frames {args.size}x{args.size} -> x4/x2 mp4: peak RSS {r['peak_rss_mib']:8.1f} MiB, "
                  f"{r['seconds']:.1f}s", flush=True)
        ratio = runs[long_n]["peak_rss_mib"] / runs[10]["peak_rss_mib"]
        print(f"ratio {long_n}/10 frames: {ratio:.3f} (goal < 1.1)")
        ok &= ratio < 1.1
        res["length"] = {"lr_size": args.size, "short_frames": 10, "long_frames": long_n,
                         "short": runs[10], "long": runs[long_n], "ratio": ratio, "goal": "< 1.1"}
        if not args.skip_1080p:
            n = 2 if args.quick else 3
            src = make_video(d / "in_1080p.mp4", n, 1080, 1920)
            r = measure([str(src), "--out", str(d / "out_1080p.mp4"), "--model", args.model,
                         "--tile", str(args.tile), "--tile-overlap", "16"])
            gib = r["peak_rss_mib"] / 1024
            print(f"1080p LR ({n} frames) -> 7680x4320, tile {args.tile}: peak RSS {gib:.2f} GiB, "
                  f"{r['seconds']:.1f}s (goal < 8 GiB)")
            ok &= gib < 8
            res["hd"] = {"lr_size": [1080, 1920], "frames": n, "tile": args.tile, "tile_overlap": 16, **r,
                         "peak_rss_gib": gib, "goal_gib": 8}
    res["goals_met"] = bool(ok)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
