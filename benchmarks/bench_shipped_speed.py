"""Upscaling speed of a model on CPU: output frames per second at a given LR size, and where the time goes.

Times one model call per LR pair (each call yields two new output frames at ×2: the interpolated frame
and the next super-resolved one) on random frames of the requested size, after a warm-up call, and the
time spent in each block (flow, VSR, refiner, VFI; forward hooks). Writes JSON::

    python benchmarks/bench_shipped_speed.py --model mbnet-photo --size 272x640 --out benchmarks/results/shipped_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

from stvsr_blocks.recipe.evaluate import load_model


def measure(model: torch.nn.Module, h: int, w: int, repeats: int = 3) -> dict:
    """Seconds per model call and per block at LR size ``h×w``.

    Args:
        model: the model (``eval()``).
        h: LR height.
        w: LR width.
        repeats: timed calls (median reported).

    Returns:
        ``{"call_s", "output_frames_per_s", "blocks_s"}``.
    """
    spent: dict[str, float] = defaultdict(float)
    starts: dict[str, float] = {}
    handles = []
    for name in ("flow", "vsr", "refiner", "vfi"):
        block = getattr(model, name, None)
        if block is None:
            continue
        handles.append(block.register_forward_pre_hook(lambda m, a, n=name: starts.__setitem__(n, time.perf_counter())))
        handles.append(block.register_forward_hook(
            lambda m, a, o, n=name: spent.__setitem__(n, spent[n] + time.perf_counter() - starts[n])))
    x0, x1 = torch.rand(1, 3, h, w), torch.rand(1, 3, h, w)
    if getattr(model, "channels_last", False):
        x0, x1 = (x.contiguous(memory_format=torch.channels_last) for x in (x0, x1))
    times = []
    with torch.inference_mode():
        model(x0, x1)
        spent.clear()
        for _ in range(repeats):
            t = time.perf_counter()
            model(x0, x1)
            times.append(time.perf_counter() - t)
    for hd in handles:
        hd.remove()
    call = sorted(times)[len(times) // 2]
    return {"call_s": round(call, 3), "output_frames_per_s": round(2 / call, 3),
            "blocks_s": {k: round(v / repeats, 3) for k, v in spent.items()}}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: command line.

    Returns:
        0.
    """
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="model spec (repeatable; default mbnet-photo)")
    ap.add_argument("--size", default="272x640", help="LR input size HxW (default 272x640 -> 1088x2560 output)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--memory-format", choices=("contiguous", "channels_last", "both"), default="both",
                    help="weights/inputs memory format (default both: one row each)")
    ap.add_argument("--out", type=Path, help="JSON output")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    h, w = (int(v) for v in args.size.lower().split("x"))
    results = {}
    formats = ("contiguous", "channels_last") if args.memory_format == "both" else (args.memory_format,)
    for spec in args.model or ["mbnet-photo"]:
        for fmt in formats:
            model = load_model(spec)  # channels_last on the CPU (what upscale and eval run)
            if fmt == "contiguous":
                model.to(memory_format=torch.contiguous_format)
                model.channels_last = False
            label = spec if fmt == "channels_last" else f"{spec} (contiguous)"
            if fmt == "contiguous" and not any(True for _ in model.parameters()):
                continue
            results[label] = measure(model, h, w, args.repeats)
            print(label, json.dumps(results[label]), flush=True)
    doc = {"lr_size": [h, w], "hr_size": [4 * h, 4 * w], "threads": torch.get_num_threads(),
           "cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
           "load_avg": os.getloadavg(), "torch": torch.__version__, "results": results}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
