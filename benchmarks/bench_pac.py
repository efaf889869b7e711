"""Speed and peak memory of the PAC layers against the naive unfold formulation, in one run.

Usage::

    python benchmarks/bench_pac.py [--quick] [--out FILE.json] [--repeats N] [--threads N]

For every case, each implementation runs in a **fresh subprocess** so that its peak memory can be
read cleanly: the worker builds the inputs, warms up on a tiny problem, resets the kernel's
high-water mark (``/proc/self/clear_refs``; falls back to ``ru_maxrss``), runs one forward+backward
and reports ``VmHWM - VmRSS_before`` as the peak *extra* resident memory. Timing runs in one
further subprocess that warms every implementation up and then alternates them round-robin for
``repeats`` forward+backward passes (median and min reported), so that load drift on a shared
machine hits all of them alike. A last subprocess runs both PAC implementations on the same inputs
and reports max |Δ| of the output and of every input gradient (absolute and relative to max |grad|).

Implementations: ``pac`` (:mod:`stvsr_blocks.flow.pac`, offset loop + custom autograd), ``naive``
(``tests/flow/_pac_naive.py``: pacnet-style ``(B, C, k, k, H, W)`` unfold) and ``torch`` (plain
``F.conv2d``/``F.conv_transpose2d``, no adaptivity: a lower bound for context).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _common import _reset_hwm, _status_kb  # noqa: E402

from stvsr_blocks.flow.pac import pac_conv2d, pac_conv_transpose2d  # noqa: E402
from tests.flow._pac_naive import naive_pac_conv2d, naive_pac_conv_transpose2d  # noqa: E402

CASES: dict[str, dict[str, Any]] = {
    "conv_B4_C32_128x128_k5": dict(
        op="conv", batch=4, c_in=32, c_out=32, c_guide=16, size=(128, 128), k=5, stride=1, padding=2,
    ),
    "convT_s2_B1_C32_to256x448_k5": dict(
        op="convT", batch=1, c_in=32, c_out=32, c_guide=16, size=(128, 224), k=5, stride=2, padding=2,
        output_padding=1,
    ),
}
QUICK: dict[str, dict[str, Any]] = {
    "conv_B2_C32_64x64_k5": dict(CASES["conv_B4_C32_128x128_k5"], batch=2, size=(64, 64)),
    "convT_s2_B1_C32_to128x224_k5": dict(CASES["convT_s2_B1_C32_to256x448_k5"], size=(64, 112)),
}
IMPLS = ("pac", "naive", "torch")


def _inputs(case: dict[str, Any], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    b, (h, w), k = case["batch"], case["size"], case["k"]
    if case["op"] == "conv":
        out_hw = (h + 2 * case["padding"] - k) // case["stride"] + 1, (w + 2 * case["padding"] - k) // case["stride"] + 1
        guide_hw = (h, w)
        wshape = (case["c_out"], case["c_in"], k, k)
    else:
        s, p, op = case["stride"], case["padding"], case["output_padding"]
        out_hw = (h - 1) * s - 2 * p + k + op, (w - 1) * s - 2 * p + k + op
        guide_hw = out_hw
        wshape = (case["c_in"], case["c_out"], k, k)
    return {
        "x": torch.randn(b, case["c_in"], h, w, generator=g),
        "guide": torch.randn(b, case["c_guide"], *guide_hw, generator=g) * 0.5,
        "weight": torch.randn(*wshape, generator=g) / (case["c_in"] * k * k) ** 0.5,
        "bias": torch.randn(case["c_out"], generator=g) * 0.1,
        "grad_out": torch.randn(b, case["c_out"], *out_hw, generator=g),
    }


def _fn(case: dict[str, Any], impl: str):
    if case["op"] == "conv":
        kw = dict(stride=case["stride"], padding=case["padding"])
        if impl == "pac":
            return lambda x, g, w, b: pac_conv2d(x, g, w, b, **kw)
        if impl == "naive":
            return lambda x, g, w, b: naive_pac_conv2d(x, g, w, b, **kw)
        return lambda x, g, w, b: F.conv2d(x, w, b, **kw)
    kw = dict(stride=case["stride"], padding=case["padding"], output_padding=case["output_padding"])
    if impl == "pac":
        return lambda x, g, w, b: pac_conv_transpose2d(x, g, w, b, **kw)
    if impl == "naive":
        return lambda x, g, w, b: naive_pac_conv_transpose2d(x, g, w, b, **kw)
    return lambda x, g, w, b: F.conv_transpose2d(x, w, b, **kw)


def _fwd_bwd(fn, t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    leaves = [t[k].detach().requires_grad_() for k in ("x", "guide", "weight", "bias")]
    out = fn(*leaves)
    out.backward(t["grad_out"])
    return out.detach(), [p.grad for p in leaves]


def _worker(name: str, case: dict[str, Any], impl: str, repeats: int, threads: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    fn = _fn(case, impl)
    tiny = dict(case, batch=1, size=(8, 8), c_in=4, c_out=4, c_guide=2)
    _fwd_bwd(_fn(tiny, impl), _inputs(tiny))  # load kernels, thread pools
    t = _inputs(case)
    exact = _reset_hwm()
    before_rss = _status_kb("VmRSS")
    before_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    _fwd_bwd(fn, t)
    first = time.perf_counter() - t0
    if exact and before_rss is not None and _status_kb("VmHWM") is not None:
        peak_mb = (_status_kb("VmHWM") - before_rss) / 1024
        method = "VmHWM after clear_refs - VmRSS"
    else:
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_max) / 1024
        method = "ru_maxrss delta (lower bound)"
    return {
        "case": name, "impl": impl, "peak_extra_mb": round(peak_mb, 1), "memory_method": method,
        "first_call_s": round(first, 4),
    }


def _timing(case: dict[str, Any], repeats: int, threads: int) -> dict[str, dict[str, Any]]:
    """Time every implementation, interleaved (round-robin) so that load drift hits all alike."""
    torch.set_num_threads(threads)
    t = _inputs(case)
    fns = {impl: _fn(case, impl) for impl in IMPLS}
    for fn in fns.values():  # warm-up
        _fwd_bwd(fn, t)
    times: dict[str, list[float]] = {impl: [] for impl in IMPLS}
    for _ in range(repeats):
        for impl, fn in fns.items():
            t0 = time.perf_counter()
            _fwd_bwd(fn, t)
            times[impl].append(time.perf_counter() - t0)
    return {
        impl: {"times_s": [round(x, 4) for x in ts], "median_s": round(statistics.median(ts), 4),
               "min_s": round(min(ts), 4)}
        for impl, ts in times.items()
    }


def _check(case: dict[str, Any], threads: int) -> dict[str, float]:
    torch.set_num_threads(threads)
    t = _inputs(case)
    o1, g1 = _fwd_bwd(_fn(case, "pac"), t)
    o2, g2 = _fwd_bwd(_fn(case, "naive"), t)
    res = {"max_abs_diff_out": (o1 - o2).abs().max().item()}
    for k, a, b in zip(("x", "guide", "weight", "bias"), g1, g2):
        res[f"max_abs_diff_grad_{k}"] = (a - b).abs().max().item()
        res[f"max_rel_diff_grad_{k}"] = (a - b).abs().max().item() / max(b.abs().max().item(), 1e-30)
    # constant guide: PAC equals the plain op with the same weights
    ones = dict(t, guide=torch.zeros_like(t["guide"]))
    o3, _ = _fwd_bwd(_fn(case, "pac"), ones)
    o4, _ = _fwd_bwd(_fn(case, "torch"), ones)
    res["max_abs_diff_const_guide_vs_torch"] = (o3 - o4).abs().max().item()
    return res


def _sub(args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print a table.

    Args:
        argv: command-line arguments (``sys.argv[1:]`` when ``None``).

    Returns:
        The JSON-serialisable result.
    """
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, 2 repeats")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 5, quick 2)")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch threads")
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "IMPL"), help=argparse.SUPPRESS)
    ap.add_argument("--check", metavar="CASE", help=argparse.SUPPRESS)
    ap.add_argument("--timing", metavar="CASE", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    cases = QUICK if a.quick else CASES
    repeats = a.repeats or (2 if a.quick else 5)
    if a.worker:
        res = _worker(a.worker[0], cases[a.worker[0]], a.worker[1], repeats, a.threads)
        print(json.dumps(res))
        return res
    if a.timing:
        res = _timing(cases[a.timing], repeats, a.threads)
        print(json.dumps(res))
        return res
    if a.check:
        res = _check(cases[a.check], a.threads)
        print(json.dumps(res))
        return res

    flags = (["--quick"] if a.quick else []) + ["--repeats", str(repeats), "--threads", str(a.threads)]
    results: dict[str, Any] = {
        "meta": {
            "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "threads": a.threads, "repeats": repeats, "quick": a.quick,
            "load_avg_start": os.getloadavg(),
        },
        "cases": {},
    }
    header = f"{'case':32s} {'impl':6s} {'median s':>9s} {'peak MB':>9s} {'time ×ref':>9s} {'mem ×ref':>9s}"
    print(header)
    print("-" * len(header))
    for name, case in cases.items():
        rows = {impl: _sub(["--worker", name, impl, *flags]) for impl in IMPLS}
        check = _sub(["--check", name, *flags])
        for impl, timing in _sub(["--timing", name, *flags]).items():
            rows[impl].update(timing)
        ref = rows["naive"]
        for impl in IMPLS:
            r = rows[impl]
            r["time_ratio_vs_naive"] = round(r["median_s"] / ref["median_s"], 3)
            r["mem_ratio_vs_naive"] = round(r["peak_extra_mb"] / max(ref["peak_extra_mb"], 1e-9), 3)
            print(
                f"{name:32s} {impl:6s} {r['median_s']:9.3f} {r['peak_extra_mb']:9.1f} "
                f"{r['time_ratio_vs_naive']:9.3f} {r['mem_ratio_vs_naive']:9.3f}"
            )
        print(f"{'':32s} max|Δ| out {check['max_abs_diff_out']:.2e}, grads (relative to max|grad|) "
              f"{max(v for k, v in check.items() if 'rel_diff_grad' in k):.2e}, "
              f"const guide vs torch {check['max_abs_diff_const_guide_vs_torch']:.2e}")
        goals = {
            "mem_ratio<=0.25": rows["pac"]["mem_ratio_vs_naive"] <= 0.25,
            "time_ratio<=0.5": rows["pac"]["time_ratio_vs_naive"] <= 0.5,
            "max_abs_diff_out<=1e-5": check["max_abs_diff_out"] <= 1e-5,
        }
        results["cases"][name] = {"config": case, "results": rows, "check": check, "goals": goals}
    results["meta"]["load_avg_end"] = os.getloadavg()
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(results, indent=2))
        print(f"wrote {a.out}")
    return results


if __name__ == "__main__":
    main()
