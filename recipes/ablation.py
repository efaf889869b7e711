#!/usr/bin/env python
"""Does the interaction help? Matched ablations of MBnet at small scale (paper Tables 1-2, Fig. 6).

Every variant is trained with identical data order, steps, optimiser and seeds and differs from
MBnet in one factor (see ``stvsr_blocks.models.VARIANTS``); each is then evaluated on held-out
synthetic clips (and optionally real clips) with the STVSR protocol: VSR PSNR (frames the VSR net
produces), VFI PSNR (interpolated frames) and their average, Y channel, as mean ± std over seeds,
with the paper's numbers beside them for reference.

    python recipes/ablation.py --budget small                 # ~40 min on a 2-core CPU
    python recipes/ablation.py --budget small --quick         # a few steps, for tests
    python recipes/ablation.py --budget paper --print-plan    # the full-scale plan (Vimeo-90K, GPU)

Outputs (``--out``, default ``outputs/ablation``): ``results.json``, ``results.md``, ``curves.png``,
one run folder per (variant, seed). ``--docs DIR`` also copies the JSON, table and figure there.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

# fmt: off
#: Paper numbers (Vimeo-90K test folder 00001, Y PSNR): Table 1 rows and Table 2 D8C8.
PAPER = {
    "mbnet": {"vsr": 33.48, "vfi": 30.98, "avg": 32.41, "source": "Table 1 row 1"},
    "timm_feature": {"vsr": 33.24, "vfi": 30.72, "avg": 32.16, "source": "Table 1 row 2 (ResNet feature)"},
    "no_feature": {"vsr": 33.04, "vfi": 30.56, "avg": 31.98, "source": "Table 1 row 3"},
    "no_vfi_feedback": {"vsr": 33.18, "vfi": 30.88, "avg": 32.20, "source": "Table 1 row 4"},
    "no_interaction": {"vsr": 32.53, "vfi": 30.06, "avg": 31.47, "source": "Table 2 D8C8 w/o interaction"},
}
# fmt: on

SMALL_VARIANTS = ["mbnet", "no_interaction", "no_vfi_feedback", "timm_feature", "no_feature", "zero_flow",
                  "no_refiner", "cascade_vsr_vfi", "cascade_vfi_vsr"]

BUDGETS: dict[str, dict[str, Any]] = {
    # Small: tiny MBnet on synthetic video; sized for ~40 minutes on 2 CPU cores.
    "small": {
        "seeds": [0, 1, 2],
        "config": {
            "name": "ablation_small",
            # residual outputs (A11 options) so the tiny nets start from bicubic/blend and converge in few steps
            "model": {"preset": "tiny", "overrides": {"vsr": {"residual": True}, "vfi": {"residual": True},
                                                    "flow": {"zero_init_heads": True}}},
            "data": {"layout": "synthetic", "lr_patch": 16, "num_workers": 0, "val_clips": 4, "val_crop": 64,
                     "synthetic": {"n_clips": 256, "height": 96, "width": 96, "frames": 3, "max_speed": 3.0}},
            "loss": {"lambda_1": 1.0, "lambda_2": 0.5, "lambda_a": 0.01, "lambda_b": 0.0},
            "train": {"steps": 250, "batch_size": 4, "lr": 5e-4, "scheduler": "cosine", "min_lr": 5e-5,
                      "grad_clip": 1.0, "device": "cpu"},
            "log": {"every": 25, "val_every": 50, "ckpt_every": 100000, "keep_last": 1, "tensorboard": False},
        },
        "eval": {"clips": 8, "size": (64, 64), "frames": 5},
    },
    # Paper: documented, not run in CI: baseline preset on Vimeo-90K septuplets, 8 GPUs via torchrun.
    "paper": {
        "seeds": [0, 1, 2],
        "config": {
            "name": "ablation_paper",
            "model": {"preset": "baseline"},
            "data": {"layout": "vimeo-septuplet", "root": "/data/vimeo_septuplet", "lr_patch": 32, "num_workers": 8},
            "loss": {"lambda_1": 1.0, "lambda_2": 0.5, "lambda_a": 0.01, "lambda_b": 0.0},
            "train": {"steps": 300000, "batch_size": 16, "lr": 1e-4, "device": "cuda"},
            "log": {"every": 100, "val_every": 5000, "ckpt_every": 5000},
        },
        "eval": {"layout": "vimeo-septuplet", "root": "/data/vimeo_septuplet"},
        "command": "torchrun --nproc_per_node=8 recipes/mbnet.py train --config <generated> --out runs/<variant>_s<seed>",
    },
}


def _variant_config(base: dict[str, Any], variant: str, seed: int, quick: bool, steps: int | None) -> Any:
    from stvsr_blocks.recipe.config import load_config
    from stvsr_blocks.recipe.train import TrainRunConfig

    data = json.loads(json.dumps(base))
    data["model"]["variant"] = variant
    data["train"]["seed"] = seed
    data["data"]["synthetic"]["seed"] = 0  # identical clips for every variant and seed
    if steps is not None:
        data["train"]["steps"] = steps
    if quick:
        data["train"]["steps"] = min(data["train"]["steps"], 3)
        data["log"].update(every=1, val_every=2)
        data["data"]["val_clips"] = 1
        data["data"]["synthetic"].update(n_clips=8, height=32, width=32)
        data["data"]["lr_patch"] = 8
        data["train"]["batch_size"] = 2
    return load_config(TrainRunConfig, None, base=data)


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    return statistics.fmean(finite), (statistics.stdev(finite) if len(finite) > 1 else 0.0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train and evaluate every (variant, seed); write results.json / results.md / curves.png."""
    from stvsr_blocks.metrics import get_protocol
    from stvsr_blocks.models import VARIANTS
    from stvsr_blocks.recipe.evaluate import evaluate_models, iter_clips
    from stvsr_blocks.recipe.train import train

    budget = BUDGETS[args.budget]
    variants = [v for v in args.variants.split(",") if v] if args.variants is not None else SMALL_VARIANTS
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"--variants: unknown variant {v!r}; choose from {', '.join(sorted(VARIANTS))}")
    seeds = list(range(args.seeds)) if args.seeds else budget["seeds"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    protocol = get_protocol("stvsr-vimeo")
    ev = budget["eval"]
    results: dict[str, Any] = {"budget": args.budget, "quick": args.quick, "seeds": seeds, "variants": {},
                               "baselines": {}, "protocol": protocol.name, "torch": torch.__version__,
                               "threads": args.threads}
    if args.merge and (out / "results.json").exists():
        old = json.loads((out / "results.json").read_text())
        results["variants"] = old.get("variants", {})
        results["baselines"] = old.get("baselines", {})
        results["seeds"] = old.get("seeds", seeds)
        results["runtime_seconds_previous"] = old.get("runtime_seconds", 0.0) + old.get("runtime_seconds_previous", 0.0)
    t_start = time.perf_counter()
    for variant in variants:
        per_seed = []
        for seed in seeds:
            cfg = _variant_config(budget["config"], variant, seed, args.quick, args.steps)
            run_dir = out / "runs" / f"{variant}_s{seed}"
            if run_dir.exists():
                shutil.rmtree(run_dir)
            t0 = time.perf_counter()
            res = train(cfg, out_dir=run_dir, progress=not args.no_progress)
            train_s = time.perf_counter() - t0
            from stvsr_blocks.models import load_pretrained

            model = load_pretrained(res.final_dir).eval()
            clip_sets = [("synthetic", iter_clips("synthetic", synthetic_clips=1 if args.quick else ev["clips"],
                                                  synthetic_size=(32, 32) if args.quick else tuple(ev["size"]),
                                                  synthetic_frames=3 if args.quick else ev["frames"]))]
            if args.eval_root:
                clip_sets.append((args.eval_layout, iter_clips(args.eval_layout, args.eval_root, limit=args.eval_limit)))
            entry: dict[str, Any] = {"seed": seed, "train_seconds": round(train_s, 1), "steps": res.step,
                                     "history": [{k: h[k] for k in ("step", "val_psnr", "val_psnr_mid") if k in h}
                                                 for h in res.history if "val_psnr" in h]}
            for set_name, (_, clips) in clip_sets:
                scores = evaluate_models({variant: model}, clips, protocol)[variant]
                summary = scores.accumulator.summary()
                entry[set_name] = {
                    "vsr": summary.groups["vsr"]["psnr_y"], "vfi": summary.groups["vfi"]["psnr_y"],
                    "avg": summary.groups["all"]["psnr_y"],
                    "ssim_avg": summary.groups["all"]["ssim_y"],
                }
            per_seed.append(entry)
            print(f"[{time.perf_counter() - t_start:7.0f}s] {variant} seed {seed}: "
                  + ", ".join(f"{k}={v:.2f}" for k, v in entry["synthetic"].items()), flush=True)
        agg: dict[str, Any] = {"description": VARIANTS[variant][0], "runs": per_seed}
        for set_name in per_seed[0]:
            if isinstance(per_seed[0][set_name], dict):
                agg[set_name] = {m: _mean_std([r[set_name][m] for r in per_seed]) for m in per_seed[0][set_name]}
        agg["paper"] = PAPER.get(variant)
        results["variants"][variant] = agg
    if args.baselines:
        # parameter-free references on the same held-out clips (no training, no seeds)
        from stvsr_blocks.models import bicubic_blend, bicubic_flow

        _, clips = iter_clips("synthetic", synthetic_clips=1 if args.quick else ev["clips"],
                              synthetic_size=(32, 32) if args.quick else tuple(ev["size"]),
                              synthetic_frames=3 if args.quick else ev["frames"])
        scores = evaluate_models({"bicubic-blend": bicubic_blend(), "bicubic-flow": bicubic_flow()}, clips, protocol)
        for label, sc in scores.items():
            g = sc.accumulator.summary().groups
            results["baselines"][label] = {"vsr": g["vsr"]["psnr_y"], "vfi": g["vfi"]["psnr_y"],
                                           "avg": g["all"]["psnr_y"], "ssim_avg": g["all"]["ssim_y"]}
    results["runtime_seconds"] = round(time.perf_counter() - t_start, 1)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(markdown_table(results))
    plot_curves(results, out / "curves.png")
    if args.docs:
        docs = Path(args.docs)
        docs.mkdir(parents=True, exist_ok=True)
        for name in ("results.json", "results.md", "curves.png"):
            if (out / name).exists():
                shutil.copy(out / name, docs / f"ablation_{name}")
    print(markdown_table(results))
    return results


def markdown_table(results: dict[str, Any]) -> str:
    """The results as a Markdown table (mean ± std over seeds, paper numbers beside)."""
    seeds = len(results["seeds"])
    lines = [
        "| variant | VSR PSNR (Y) | VFI PSNR (Y) | average PSNR (Y) | paper VSR / VFI / avg |",
        "|---|---|---|---|---|",
    ]
    base = results["variants"].get("mbnet", {}).get("synthetic", {})
    for name, agg in results["variants"].items():
        syn = agg["synthetic"]

        def cell(metric: str, name: str = name, syn: dict[str, Any] = syn) -> str:
            m, s = syn[metric]
            delta = ""
            if name != "mbnet" and metric in base:
                delta = f" ({m - base[metric][0]:+.2f})"
            return f"{m:.2f} ± {s:.2f}{delta}"

        paper = agg.get("paper")
        ptxt = f"{paper['vsr']:.2f} / {paper['vfi']:.2f} / {paper['avg']:.2f}" if paper else "—"
        lines.append(f"| `{name}` — {agg['description']} | {cell('vsr')} | {cell('vfi')} | {cell('avg')} | {ptxt} |")
    for label, b in results.get("baselines", {}).items():
        lines.append(f"| `{label}` — parameter-free baseline | {b['vsr']:.2f} | {b['vfi']:.2f} | {b['avg']:.2f} | — |")
    lines.append("")
    lines.append(f"Held-out synthetic clips, STVSR protocol ({results['protocol']}), mean ± std over {seeds} seeds; "
                 f"(±x.xx) = difference to `mbnet`. Runtime {(results['runtime_seconds'] + results.get('runtime_seconds_previous', 0.0)) / 60:.1f} min "
                 f"({results['threads']} threads, torch {results['torch']}).")
    return "\n".join(lines) + "\n"


def plot_curves(results: dict[str, Any], path: Path) -> Path | None:
    """Fig. 6 analogue: validation PSNR vs step with and without interaction (mean and range over seeds)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, style in (("mbnet", "-"), ("no_interaction", "--"), ("no_vfi_feedback", ":")):
        agg = results["variants"].get(name)
        if not agg:
            continue
        runs = [r["history"] for r in agg["runs"] if r["history"]]
        if not runs:
            continue
        steps = [h["step"] for h in runs[0]]
        vals = [[h["val_psnr"] for h in r[: len(steps)]] for r in runs]
        n = min(len(v) for v in vals)
        mean = [statistics.fmean(v[i] for v in vals) for i in range(n)]
        lo = [min(v[i] for v in vals) for i in range(n)]
        hi = [max(v[i] for v in vals) for i in range(n)]
        ax.plot(steps[:n], mean, style, label=f"{name} (mean of {len(vals)} seeds)")
        ax.fill_between(steps[:n], lo, hi, alpha=0.15)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation PSNR (dB, RGB, 3 frames)")
    ax.set_title("Convergence with and without interaction")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ablation.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", choices=sorted(BUDGETS), default="small", help="small (CPU, synthetic) or paper (plan only)")
    p.add_argument("--variants", default=None, help=f"comma-separated subset (default: {','.join(SMALL_VARIANTS)})")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3)")
    p.add_argument("--steps", type=int, default=None, help="override training steps per run")
    p.add_argument("--quick", action="store_true", help="a few steps on tiny data (tests)")
    p.add_argument("--out", default="outputs/ablation")
    p.add_argument("--docs", default=None, help="also copy results.json/results.md/curves.png into this folder")
    p.add_argument("--eval-layout", default="vid4", help="layout of --eval-root")
    p.add_argument("--eval-root", default=None, help="also evaluate on real clips under this root")
    p.add_argument("--eval-limit", type=int, default=None, help="at most this many real clips")
    p.add_argument("--baselines", action=argparse.BooleanOptionalAction, default=True,
                   help="also evaluate the bicubic-blend and bicubic-flow baselines on the same clips")
    p.add_argument("--merge", action="store_true",
                   help="add to an existing results.json in --out instead of replacing it")
    p.add_argument("--threads", type=int, default=max(1, min(2, torch.get_num_threads())))
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--print-plan", action="store_true", help="print the per-run configs and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.print_plan or args.budget == "paper":
        b = BUDGETS[args.budget]
        print(json.dumps({k: v for k, v in b.items()}, indent=2, default=str))
        if args.budget == "paper":
            print("The paper budget is a plan: run each (variant, seed) with the command above on a GPU machine, "
                  "then evaluate with `recipes/mbnet.py eval --layout vimeo-septuplet`.")
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
