"""Photo-textured training windows per second vs. what training consumes (does the loader keep up?).

Renders ``--clips`` STVSR training windows (3 frames at times 0, t, 1 with exact mid flows, then the
LR crops and augmentation of :class:`~stvsr_blocks.data.train.STVSRTrainDataset`) in one process with
``--threads`` torch threads, at the shipped model's training size, and writes JSON::

    python benchmarks/bench_photo_render.py --out benchmarks/results/photo_render.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from stvsr_blocks.data.photo import PhotoVideoConfig, PhotoVideoDataset
from stvsr_blocks.data.train import STVSRTrainDataset


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: command line.

    Returns:
        0.
    """
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = {"threads": args.threads, "load_avg": os.getloadavg(), "cases": {}}
    for size, patch in ((80, 16), (128, 32)):
        src = PhotoVideoDataset("train", args.clips, PhotoVideoConfig(height=size, width=size), random_time=True)
        ds = STVSRTrainDataset(src, lr_patch=patch, scale=4, kernel="pil", augment=True, num_frames=3)
        ds[0]
        t0 = time.perf_counter()
        for i in range(1, args.clips):
            ds[i]
        rate = (args.clips - 1) / (time.perf_counter() - t0)
        out["cases"][f"{size}x{size} frames, LR patch {patch}"] = {"samples_per_s": round(rate, 1)}
        print(f"{size}x{size}, LR patch {patch}: {rate:.1f} training samples/s on {args.threads} thread(s)", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
