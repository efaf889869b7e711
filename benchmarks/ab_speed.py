"""A/B speed of one model between two versions of the library, in the same run, with the outputs compared.

    python benchmarks/ab_speed.py --base 4cb2977^ --model mbnet-photo --size 272x640 --rounds 5 \
        --out benchmarks/results/ab_speed.json

``--base`` is any git revision; its ``stvsr_blocks/`` tree is exported with ``git archive`` into a
temporary folder. Two persistent worker processes load the model, one from the base tree and one
from this checkout (``PYTHONPATH`` picks which package wins), build the same seeded random LR pair
and make one warm-up call. The parent then alternates them call by call for ``--rounds`` rounds, so
that load drift on a shared machine hits both alike; only one worker computes at a time. Reported:
the median seconds per call of each, the speed-up ``base / head`` with the per-round ratios, and the
largest absolute difference between the two outputs (every output tensor of the model's result).

Each worker runs the model the way ``stvsr upscale`` and ``stvsr eval`` do in its version
(``recipe.evaluate.load_model``: channels_last on the CPU from the version that introduced it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _outputs(result: Any, prefix: str = "") -> dict[str, Any]:
    """Every tensor of a model result by dotted name (tensors, tuples, dataclasses such as ``LoopOutput``)."""
    import dataclasses

    import torch

    if isinstance(result, torch.Tensor):
        return {prefix or "out": result}
    if dataclasses.is_dataclass(result):
        items = [(f.name, getattr(result, f.name)) for f in dataclasses.fields(result)]
    elif isinstance(result, (tuple, list)):
        items = [(str(i), v) for i, v in enumerate(result)]
    else:
        return {}
    out: dict[str, Any] = {}
    for k, v in items:
        out.update(_outputs(v, f"{prefix}.{k}" if prefix else k))
    return out


def _peak_rss_mb() -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines() if Path("/proc/self/status").exists() else ():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def worker(model_spec: str, size: tuple[int, int], threads: int, dump: Path, keep_memory: bool = False) -> None:
    """Serve timed calls: one line ``go`` on stdin → one line with the seconds of one call on stdout.

    Args:
        model_spec: model spec for ``load_model``.
        size: LR ``(height, width)``.
        threads: torch intra-op threads.
        dump: where to save the output tensors of the last call (``torch.save``).
        keep_memory: call :func:`stvsr_blocks.inference.keep_freed_memory` first (as ``stvsr upscale`` does).
    """
    import torch

    if keep_memory:
        from stvsr_blocks.inference import keep_freed_memory

        keep_freed_memory()

    from stvsr_blocks.recipe.evaluate import load_model

    torch.set_num_threads(threads)
    model = load_model(model_spec).eval()
    g = torch.Generator().manual_seed(0)
    x0, x1 = (torch.rand(1, 3, *size, generator=g) for _ in range(2))
    if getattr(model, "channels_last", False):
        x0, x1 = (x.contiguous(memory_format=torch.channels_last) for x in (x0, x1))
    with torch.inference_mode():
        out = model(x0, x1)  # warm-up
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() != "go":
                break
            t = time.perf_counter()
            out = model(x0, x1)
            print(f"{time.perf_counter() - t:.6f}", flush=True)
    times = os.times()
    print(json.dumps({"peak_rss_mb": _peak_rss_mb(), "user_s": times.user, "sys_s": times.system}), flush=True)
    torch.save({k: v.detach().float().contiguous() for k, v in _outputs(out).items()}, dump)


def _export(rev: str, dest: Path) -> str:
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", rev], capture_output=True, text=True,
                         check=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "stvsr_blocks"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return sha


def _start(tree: Path, args: argparse.Namespace, dump: Path, keep_memory: bool) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS=str(args.threads))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--model", args.model, "--size", args.size,
           "--threads", str(args.threads), "--dump", str(dump)] + (["--keep-memory"] if keep_memory else [])
    proc = subprocess.Popen(cmd, env=env, cwd=tempfile.gettempdir(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise SystemExit(f"worker for {tree} did not start (got {line!r})")
    return proc


def _call(proc: subprocess.Popen) -> float:
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return float(proc.stdout.readline())


def _stop(proc: subprocess.Popen) -> dict[str, Any]:
    proc.stdin.write("stop\n")
    proc.stdin.close()
    stats = json.loads(proc.stdout.readline())
    proc.wait(timeout=600)
    return stats


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """Run the A/B comparison.

    Args:
        args: parsed arguments.

    Returns:
        The result document.
    """
    import torch

    tmp = Path(tempfile.mkdtemp(prefix="ab_speed_"))
    try:
        base_tree = tmp / "base"
        base_tree.mkdir()
        base_sha = _export(args.base, base_tree)
        head_sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                                  check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "stvsr_blocks"],
                                    capture_output=True, text=True, check=True).stdout.strip())
        keep = {"base": args.allocator in ("base", "both"), "head": args.allocator in ("head", "both")}
        procs = {"base": _start(base_tree, args, tmp / "base.pt", keep["base"]),
                 "head": _start(ROOT, args, tmp / "head.pt", keep["head"])}
        times: dict[str, list[float]] = {"base": [], "head": []}
        for r in range(args.rounds):
            order = ("base", "head") if r % 2 == 0 else ("head", "base")
            for name in order:
                times[name].append(_call(procs[name]))
            print(f"round {r + 1}/{args.rounds}: base {times['base'][-1]:.3f} s, head {times['head'][-1]:.3f} s",
                  flush=True)
        stats = {name: _stop(p) for name, p in procs.items()}
        a, b = torch.load(tmp / "base.pt"), torch.load(tmp / "head.pt")
        diffs = {k: float((a[k] - b[k]).abs().max()) for k in sorted(set(a) & set(b))}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    h, w = (int(v) for v in args.size.lower().split("x"))
    return {
        "model": args.model, "lr_size": [h, w], "threads": args.threads, "rounds": args.rounds,
        "base": {"rev": args.base, "sha": base_sha, "median_s": med["base"], "times_s": times["base"],
                 "keep_freed_memory": keep["base"], **stats["base"]},
        "head": {"sha": head_sha, "uncommitted_changes": dirty, "median_s": med["head"], "times_s": times["head"],
                 "keep_freed_memory": keep["head"], **stats["head"]},
        "speedup_base_over_head": med["base"] / med["head"],
        "round_ratios": [x / y for x, y in zip(times["base"], times["head"])],
        "output_frames_per_s": {k: 2 / v for k, v in med.items()},
        "max_abs_output_diff": diffs, "max_abs_output_diff_all": max(diffs.values()) if diffs else None,
        "machine": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "load_avg_end": list(os.getloadavg()), "torch": torch.__version__},
        "command": " ".join(["python", "benchmarks/ab_speed.py", *sys.argv[1:]]),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point.

    Args:
        argv: command line.

    Returns:
        0.
    """
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="HEAD~1", help="git revision of the base version (default HEAD~1)")
    ap.add_argument("--model", default="mbnet-photo", help="model spec (default mbnet-photo)")
    ap.add_argument("--size", default="272x640", help="LR size HxW (default 272x640 -> 1088x2560)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating timed calls per version (default 5)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, help="JSON output")
    ap.add_argument("--allocator", choices=("none", "head", "base", "both"), default="none",
                    help="which side calls stvsr_blocks.inference.keep_freed_memory first (default none; "
                         "'--base HEAD --allocator head' measures the allocator setting alone)")
    ap.add_argument("--keep-memory", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.model, tuple(int(v) for v in args.size.lower().split("x")), args.threads, args.dump,
               args.keep_memory)
        return 0
    doc = compare(args)
    print(f"base {doc['base']['median_s']:.3f} s/call, head {doc['head']['median_s']:.3f} s/call: "
          f"{doc['speedup_base_over_head']:.3f}x; max |output diff| {doc['max_abs_output_diff_all']:.2e}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2))
        os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
