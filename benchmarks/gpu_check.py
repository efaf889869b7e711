"""The GPU check for the day a device is lent: GPU/CPU parity tests, then CUDA throughput, as one JSON.

    python benchmarks/gpu_check.py --out $OUT/gpu_check.json            # on the GPU machine (<= 8 minutes)
    python benchmarks/gpu_check.py --out /tmp/gpu_check.json             # without CUDA: a clean skip (exit 0)

1. ``pytest -m gpu -q`` (the parity tests: every block and preset on CUDA against the CPU), its summary line and
   exit code recorded;
2. throughput of the shipped model and the paper preset at 960×540 → 3840×2160 (one call per LR pair,
   two new output frames at ×2) in fp32 and bf16 autocast, with ``torch.cuda.synchronize`` around the timed
   calls and ``torch.cuda.max_memory_allocated``; each case in its own budget so one slow case cannot eat the
   others' time.

The throughput part needs only torch (no PyAV, no kornia: the device's Python has neither); the parity tests
need pytest and hypothesis there too — when they are missing the JSON records the failed import as the tests'
summary and the throughput is still measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (label, model spec) of the throughput cases.
MODELS = (("mbnet-photo", "mbnet-photo"), ("mbnet_paper", "preset:paper"))


def _build(spec: str) -> torch.nn.Module:
    if spec.startswith("preset:"):
        from stvsr_blocks.models import mbnet_paper

        torch.manual_seed(0)
        return mbnet_paper()
    from stvsr_blocks.models import load_pretrained

    return load_pretrained(spec)


def throughput(spec: str, *, size: tuple[int, int], dtype: str, repeats: int, budget_s: float) -> dict:
    """Seconds per call and output frames/s of one model on CUDA.

    Args:
        spec: a shipped model name or ``preset:paper``.
        size: LR ``(height, width)``.
        dtype: ``"fp32"`` or ``"bf16"`` (autocast).
        repeats: timed calls (fewer when the budget runs out).
        budget_s: wall-clock budget of the case.

    Returns:
        ``{"call_s", "output_frames_per_s", "max_memory_gib", "repeats"}`` or ``{"error": ...}``.
    """
    t_case = time.perf_counter()
    try:
        model = _build(spec).cuda().eval()
        h, w = size
        x0, x1 = torch.rand(1, 3, h, w, device="cuda"), torch.rand(1, 3, h, w, device="cuda")
        ctx = torch.autocast("cuda", dtype=torch.bfloat16) if dtype == "bf16" else torch.autocast("cuda", enabled=False)
        torch.cuda.reset_peak_memory_stats()
        times = []
        with torch.inference_mode(), ctx:
            model(x0, x1)  # warm-up (cuDNN algorithm choice)
            torch.cuda.synchronize()
            for _ in range(repeats):
                if time.perf_counter() - t_case > budget_s:
                    break
                t = time.perf_counter()
                model(x0, x1)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
        if not times:
            return {"error": f"budget of {budget_s:.0f} s spent in the warm-up"}
        call = sorted(times)[len(times) // 2]
        return {"call_s": round(call, 4), "output_frames_per_s": round(2 / call, 2),
                "max_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2), "repeats": len(times)}
    except Exception as exc:  # one failing case must not lose the others' results
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def parity_tests(timeout_s: float) -> dict:
    """Run the GPU parity tests (``pytest -m gpu``) in a subprocess.

    Args:
        timeout_s: wall-clock limit.

    Returns:
        ``{"exit_code", "summary", "seconds"}``.
    """
    t = time.perf_counter()
    try:
        res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                              str(ROOT / "tests")], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        lines = [ln for ln in res.stdout.strip().splitlines() if ln.strip()]
        return {"exit_code": res.returncode, "summary": lines[-1] if lines else "",
                "seconds": round(time.perf_counter() - t, 1)}
    except subprocess.TimeoutExpired:
        return {"exit_code": None, "summary": f"timed out after {timeout_s:.0f} s", "seconds": timeout_s}


def main(argv: list[str] | None = None) -> int:
    """Run the check.

    Args:
        argv: command line.

    Returns:
        0 (also without CUDA: the JSON then says it was skipped).
    """
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="JSON output")
    ap.add_argument("--size", default="540x960", help="LR size HxW (default 540x960 -> 2160x3840)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tests-timeout", type=float, default=180.0, help="seconds for the parity tests")
    ap.add_argument("--case-budget", type=float, default=60.0, help="seconds per throughput case")
    ap.add_argument("--skip-tests", action="store_true")
    args = ap.parse_args(argv)
    doc: dict = {"torch": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count()}
    if not torch.cuda.is_available():
        doc["skipped"] = "no CUDA device: nothing measured (run this on a GPU machine)"
        print(doc["skipped"])
    else:
        doc["gpu"] = torch.cuda.get_device_name(0)
        h, w = (int(v) for v in args.size.lower().split("x"))
        doc["lr_size"], doc["hr_size"] = [h, w], [4 * h, 4 * w]
        if not args.skip_tests:
            doc["parity_tests"] = parity_tests(args.tests_timeout)
            print("parity tests:", doc["parity_tests"]["summary"], flush=True)
        doc["throughput"] = {}
        for label, spec in MODELS:
            for dtype in ("fp32", "bf16"):
                r = throughput(spec, size=(h, w), dtype=dtype, repeats=args.repeats, budget_s=args.case_budget)
                doc["throughput"][f"{label} {dtype}"] = r
                print(label, dtype, json.dumps(r), flush=True)
                torch.cuda.empty_cache()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
