#!/usr/bin/env python
"""Does the interaction help? Matched ablations of MBnet at small scale (paper Tables 1-2, Fig. 6).

Every variant is trained with identical data order, steps, optimiser and seeds and differs from
MBnet in one factor (see ``stvsr_blocks.models.VARIANTS``); each is then evaluated on held-out
photo-textured clips (the test photos; ``--budget small``: synthetic clips) and optionally real video files
(``--eval-root``) with the STVSR protocol: VSR PSNR (frames the VSR net
produces), VFI PSNR (interpolated frames) and their average, Y channel, as mean ± std over seeds,
with the paper's numbers beside them for reference.

    python recipes/ablation.py --jobs 2                       # photos budget: ~95 min on 2 CPU cores
    python recipes/ablation.py --budget small                 # sinusoid textures (the first run), ~40 min
    python recipes/ablation.py --budget small --quick         # a few steps, for tests
    python recipes/ablation.py --budget paper --print-plan    # the full-scale plan (Vimeo-90K, GPU)

Outputs (``--out``, default ``outputs/ablation``): ``results.json``, ``results.md``, ``curves.png``,
one run folder per (variant, seed). ``--docs DIR`` also copies the JSON, table and figure there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
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

#: The variants the issue asks for (the ``photos`` budget's default set).
PHOTO_VARIANTS = ["mbnet", "no_interaction", "no_vfi_feedback", "no_feature", "cascade_vfi_vsr"]
SMALL_VARIANTS = [
    "mbnet",
    "no_interaction",
    "no_vfi_feedback",
    "timm_feature",
    "no_feature",
    "zero_flow",
    "no_refiner",
    "cascade_vsr_vfi",
    "cascade_vfi_vsr",
]


def _photo_model_overrides() -> dict[str, Any]:
    from stvsr_blocks.recipe.demo import DEMO_MODEL_OVERRIDES

    return {k: v for k, v in DEMO_MODEL_OVERRIDES.items() if k != "name"}


BUDGETS: dict[str, dict[str, Any]] = {
    # Photos: the demo model's structure (classical LR flow, PAC refiner, RDN D3C3G32, GridNet with a time
    # input, residual outputs: about 0.5M parameters) on photo-textured video, 900 steps of batch 8. At 600
    # steps (the demo's budget) `no_interaction` ended 0.49 dB above bicubic-flow, short of the 0.5 dB
    # precondition, so the budget is 1.5x the demo's. 6-10 min per run on one core; with --jobs 2 the 15
    # runs of 5 variants x 3 seeds take ~95 min on 2 cores.
    "photos": {
        "seeds": [0, 1, 2],
        "variants": PHOTO_VARIANTS,
        "config": {
            "name": "ablation_photos",
            "model": {"preset": "tiny", "overrides": "DEMO"},
            "data": {
                "layout": "photos",
                "lr_patch": 16,
                "kernel": "pil",
                "num_workers": 0,
                "val_clips": 4,
                "val_crop": 64,
                "n_clips": 4800,
                "random_time": True,
                "photos": {"height": 80, "width": 80, "seed": 0},
            },
            "loss": {"lambda_b": 0.1},
            "train": {
                "steps": 900,
                "batch_size": 8,
                "lr": 1e-3,
                "scheduler": "cosine",
                "min_lr": 1e-5,
                "grad_clip": 1.0,
                "device": "cpu",
            },
            "log": {
                "every": 25,
                "val_every": 50,
                "ckpt_every": 100,
                "keep_last": 1,
                "tensorboard": False,
                "curves": False,
            },
        },
        "eval": {
            "set": "photos",
            "protocol": "stvsr-vid4",
            "kernel": "pil",
            "clips": 8,
            "size": (128, 128),
            "frames": 7,
        },
    },
    # Small: tiny MBnet on sinusoid-textured synthetic video (the first, inconclusive run; kept for reference).
    "small": {
        "seeds": [0, 1, 2],
        "variants": SMALL_VARIANTS,
        "config": {
            "name": "ablation_small",
            # residual outputs (A11 options) so the tiny nets start from bicubic/blend and converge in few steps
            "model": {
                "preset": "tiny",
                "overrides": {"vsr": {"residual": True}, "vfi": {"residual": True}, "flow": {"zero_init_heads": True}},
            },
            "data": {
                "layout": "synthetic",
                "lr_patch": 16,
                "num_workers": 0,
                "val_clips": 4,
                "val_crop": 64,
                "synthetic": {"n_clips": 256, "height": 96, "width": 96, "frames": 3, "max_speed": 3.0},
            },
            "loss": {"lambda_1": 1.0, "lambda_2": 0.5, "lambda_a": 0.01, "lambda_b": 0.0},
            "train": {
                "steps": 250,
                "batch_size": 4,
                "lr": 5e-4,
                "scheduler": "cosine",
                "min_lr": 5e-5,
                "grad_clip": 1.0,
                "device": "cpu",
            },
            "log": {"every": 25, "val_every": 50, "ckpt_every": 100000, "keep_last": 1, "tensorboard": False},
        },
        "eval": {
            "set": "synthetic",
            "protocol": "stvsr-vimeo",
            "kernel": None,
            "clips": 8,
            "size": (64, 64),
            "frames": 5,
        },
    },
    # Paper: documented, not run in CI: baseline preset on Vimeo-90K septuplets, 8 GPUs via torchrun.
    "paper": {
        "seeds": [0, 1, 2],
        "variants": ["mbnet", "no_interaction", "no_vfi_feedback", "timm_feature", "no_feature"],
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
    """The training config of one (variant, seed) run: ``base`` with only ``model.variant`` and
    ``train.seed`` changed (and the step count / quick sizes, identically for every run)."""
    from stvsr_blocks.recipe.config import load_config
    from stvsr_blocks.recipe.train import TrainRunConfig

    data = json.loads(json.dumps(base))
    if data["model"].get("overrides") == "DEMO":
        data["model"]["overrides"] = _photo_model_overrides()
    data["model"]["variant"] = variant
    data["train"]["seed"] = seed
    source = data["data"]["layout"]
    data["data"][source]["seed"] = 0  # identical clips for every variant and seed
    if steps is not None:
        data["train"]["steps"] = steps
    if quick:
        data["train"]["steps"] = min(data["train"]["steps"], 3)
        data["log"].update(every=1, val_every=2, ckpt_every=2)
        data["data"]["val_clips"] = 1
        data["data"]["val_crop"] = 32
        data["data"][source].update(height=32, width=32)
        if "n_clips" in data["data"][source]:
            data["data"][source]["n_clips"] = 8
        if "n_clips" in data["data"]:
            data["data"]["n_clips"] = 8
        data["data"]["lr_patch"] = 8
        data["train"]["batch_size"] = 2
    return load_config(TrainRunConfig, None, base=data)


def _eval_sizes(ev: dict[str, Any], quick: bool) -> dict[str, Any]:
    return {**ev, "clips": 1, "size": (48, 48), "frames": 5} if quick else ev


def _eval_clips(ev: dict[str, Any]) -> list[Any]:
    """The held-out evaluation clips of a budget (the same for every run and baseline)."""
    from stvsr_blocks.recipe.evaluate import EvalClip, iter_clips

    if ev["set"] == "photos":
        from stvsr_blocks.data.photo import PhotoVideoConfig, PhotoVideoDataset

        h, w = ev["size"]
        cfg = PhotoVideoConfig(height=h, width=w, times=tuple(k / 2 for k in range(ev["frames"])))
        ds = PhotoVideoDataset("test", ev["clips"], cfg, seed=0)  # the test photos: never trained on
        return [EvalClip(ds[i].name, ds[i].hr) for i in range(len(ds))]
    _, it = iter_clips(
        "synthetic", synthetic_clips=ev["clips"], synthetic_size=tuple(ev["size"]), synthetic_frames=ev["frames"]
    )
    return list(it)


def _real_clips(args: argparse.Namespace) -> list[Any]:
    from stvsr_blocks.recipe.evaluate import iter_clips

    if not args.eval_root:
        return []
    _, it = iter_clips(args.eval_layout, args.eval_root, limit=args.eval_limit, max_frames=args.eval_frames)
    return list(it)


def _score(models: dict[str, Any], clips: list[Any], ev: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Y-PSNR/SSIM of each model on ``clips``: VSR frames, VFI frames, all frames, and per clip."""
    from stvsr_blocks.metrics import get_protocol
    from stvsr_blocks.recipe.evaluate import evaluate_models

    scores = evaluate_models(models, clips, get_protocol(ev["protocol"]), lr_kernel=ev.get("kernel"))
    out = {}
    for label, sc in scores.items():
        s = sc.accumulator.summary()
        g = s.groups
        out[label] = {
            "vsr": g["vsr"]["psnr_y"],
            "vfi": g["vfi"]["psnr_y"],
            "avg": g["all"]["psnr_y"],
            "ssim_avg": g["all"]["ssim_y"],
            "per_clip": {c: v["all"]["psnr_y"] for c, v in s.per_clip.items()},
        }
    return out


def _atomic_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def _tasks(variants: list[str], seeds: list[int]) -> list[tuple[str, int]]:
    # seed-major: after the first len(variants) runs every variant has one seed
    return [(v, s) for s in seeds for v in variants]


def run_one(args: argparse.Namespace, variant: str, seed: int) -> dict[str, Any]:
    """Train (or resume) and evaluate one (variant, seed) run; its ``entry.json`` marks it done."""
    from stvsr_blocks.models import load_pretrained
    from stvsr_blocks.recipe.train import train

    budget = BUDGETS[args.budget]
    run_dir = Path(args.out) / "runs" / f"{variant}_s{seed}"
    done = run_dir / "entry.json"
    if done.exists():
        return json.loads(done.read_text())
    cfg = _variant_config(budget["config"], variant, seed, args.quick, args.steps)
    has_ckpt = (run_dir / "checkpoints").exists() and any((run_dir / "checkpoints").iterdir())
    t0 = time.perf_counter()
    res = train(cfg, out_dir=run_dir, resume="auto" if has_ckpt else None, progress=not args.no_progress)
    train_s = time.perf_counter() - t0
    model = load_pretrained(res.final_dir).eval()
    ev = _eval_sizes(budget["eval"], args.quick)
    entry: dict[str, Any] = {
        "variant": variant,
        "seed": seed,
        "steps": res.step,
        "train_seconds_this_invocation": round(train_s, 1),
        "train_seconds": round(res.history[-1].get("elapsed_s", train_s), 1) if res.history else round(train_s, 1),
        "params": sum(p.numel() for p in model.parameters()),
        "history": [
            {k: h[k] for k in ("step", "val_psnr", "val_psnr_mid") if k in h} for h in res.history if "val_psnr" in h
        ],
    }
    entry[ev["set"]] = _score({variant: model}, _eval_clips(ev), ev)[variant]
    real = _real_clips(args)
    if real:
        entry["real"] = _score({variant: model}, real, ev)[variant]
    _atomic_json(done, entry)
    print(
        f"{variant} seed {seed}: "
        + ", ".join(f"{k}={v:.2f}" for k, v in entry[ev["set"]].items() if isinstance(v, float)),
        flush=True,
    )
    return entry


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    return statistics.fmean(finite), (statistics.stdev(finite) if len(finite) > 1 else 0.0)


def paired_difference(a: list[float], b: list[float]) -> dict[str, Any]:
    """Paired difference ``a - b`` over seeds: mean, 95% t confidence interval and two-sided p-value.

    Example:
        >>> d = paired_difference([1.0, 2.0, 3.0], [0.5, 1.5, 2.5])
        >>> d["mean"], d["ci95"]
        (0.5, [0.5, 0.5])
    """
    from scipy import stats

    d = [x - y for x, y in zip(a, b, strict=True)]
    n = len(d)
    mean = statistics.fmean(d)
    if n < 2:
        return {"mean": mean, "ci95": [float("nan"), float("nan")], "p": float("nan"), "n": n, "per_seed": d}
    sd = statistics.stdev(d)
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    p = float(stats.ttest_rel(a, b).pvalue) if sd > 0 else (0.0 if mean != 0 else 1.0)
    return {"mean": mean, "ci95": [mean - half, mean + half], "p": p, "n": n, "per_seed": d}


def aggregate(args: argparse.Namespace, variants: list[str], seeds: list[int]) -> dict[str, Any]:
    """Collect every run's ``entry.json`` and the baselines into ``results.json``."""
    budget = BUDGETS[args.budget]
    out = Path(args.out)
    ev = _eval_sizes(budget["eval"], args.quick)
    sets = [ev["set"]] + (["real"] if args.eval_root else [])
    results: dict[str, Any] = {
        "budget": args.budget,
        "quick": args.quick,
        "seeds": seeds,
        "variants": {},
        "baselines": {},
        "protocol": ev["protocol"],
        "lr_kernel": ev.get("kernel"),
        "eval": {k: v for k, v in ev.items()},
        "eval_sets": sets,
        "torch": torch.__version__,
        "threads": args.threads,
        "jobs": args.jobs,
        "real_root": args.eval_root,
        "command": "python recipes/ablation.py " + " ".join(args.argv),
    }
    if args.merge and (out / "results.json").exists():
        old = json.loads((out / "results.json").read_text())
        results["variants"] = old.get("variants", {})
        results["baselines"] = old.get("baselines", {})
    for variant in variants:
        runs = [
            json.loads((out / "runs" / f"{variant}_s{s}" / "entry.json").read_text())
            for s in seeds
            if (out / "runs" / f"{variant}_s{s}" / "entry.json").exists()
        ]
        if not runs:
            continue
        from stvsr_blocks.models import VARIANTS

        agg: dict[str, Any] = {"description": VARIANTS[variant][0], "params": runs[0]["params"], "runs": runs}
        for set_name in sets:
            if set_name in runs[0]:
                agg[set_name] = {
                    m: _mean_std([r[set_name][m] for r in runs]) for m in ("vsr", "vfi", "avg", "ssim_avg")
                }
        agg["paper"] = PAPER.get(variant)
        results["variants"][variant] = agg
    base = results["variants"].get("mbnet")
    for variant, agg in results["variants"].items():
        if variant == "mbnet" or base is None:
            continue
        common = sorted({r["seed"] for r in agg["runs"]} & {r["seed"] for r in base["runs"]})
        mine = {r["seed"]: r for r in agg["runs"]}
        ref = {r["seed"]: r for r in base["runs"]}
        agg["paired_vs_mbnet"] = {
            set_name: {
                m: paired_difference([mine[s][set_name][m] for s in common], [ref[s][set_name][m] for s in common])
                for m in ("vsr", "vfi", "avg")
            }
            for set_name in sets
            if set_name in agg
        }
    results["baselines"] = _baselines(args, ev, sets) if args.baselines else results["baselines"]
    flow = results["baselines"].get("bicubic-flow", {}).get(ev["set"])
    if flow:
        margins = {v: a[ev["set"]]["avg"][0] - flow["avg"] for v, a in results["variants"].items() if ev["set"] in a}
        results["precondition"] = {
            "baseline": "bicubic-flow",
            "set": ev["set"],
            "required_db": 0.5,
            "margins_db": margins,
            "met": bool(margins) and min(margins.values()) >= 0.5,
        }
    return results


def _baselines(args: argparse.Namespace, ev: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """bicubic-blend / bicubic-flow on the same clips, and on the training run's validation windows (the
    reference lines of the convergence figure). Cached in ``baselines.json``."""
    from stvsr_blocks.models import bicubic_blend, bicubic_flow
    from stvsr_blocks.recipe.train import build_validation_clips, validate

    path = Path(args.out) / "baselines.json"
    if path.exists():
        cached = json.loads(path.read_text())
        if all(s in cached.get("bicubic-flow", {}) for s in sets):
            return cached
    models = {"bicubic-blend": bicubic_blend(), "bicubic-flow": bicubic_flow()}
    res: dict[str, Any] = {k: {} for k in models}
    for set_name, clips in ((ev["set"], _eval_clips(ev)), ("real", _real_clips(args))):
        if set_name in sets and clips:
            for label, sc in _score(models, clips, ev).items():
                res[label][set_name] = sc
    val = build_validation_clips(_variant_config(BUDGETS[args.budget]["config"], "mbnet", 0, args.quick, args.steps))
    for label, m in models.items():
        res[label]["val_psnr"] = validate(m, val, device=torch.device("cpu")).get("val_psnr")
    _atomic_json(path, res)
    return res


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train and evaluate every (variant, seed) not yet done (``--jobs`` at a time); write the report."""
    from stvsr_blocks.models import VARIANTS

    budget = BUDGETS[args.budget]
    variants = [v for v in args.variants.split(",") if v] if args.variants is not None else budget["variants"]
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"--variants: unknown variant {v!r}; choose from {', '.join(sorted(VARIANTS))}")
    seeds = list(range(args.seeds)) if args.seeds else budget["seeds"]
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    tasks = _tasks(variants, seeds)
    if args.worker is not None:  # one of --jobs worker processes: every jobs-th pending run
        k, n = (int(x) for x in args.worker.split("/"))
        pending = [t for t in tasks if not (out / "runs" / f"{t[0]}_s{t[1]}" / "entry.json").exists()]
        for variant, seed in pending[k::n]:
            run_one(args, variant, seed)
        return {}
    t_start = time.perf_counter()
    if args.jobs > 1:
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
        procs = []
        for k in range(args.jobs):
            log = open(out / f"worker{k}.log", "a")  # noqa: SIM115 - closed below
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                *args.argv,
                "--worker",
                f"{k}/{args.jobs}",
                "--no-progress",
            ]
            procs.append((subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        failed = []
        for k, (p, log) in enumerate(procs):
            if p.wait() != 0:
                failed.append(k)
            log.close()
        if failed:
            raise SystemExit(f"ablation workers {failed} failed; see {out}/worker<k>.log (rerun to resume)")
    else:
        for variant, seed in tasks:
            run_one(args, variant, seed)
    results = aggregate(args, variants, seeds)
    results["runtime_seconds_this_invocation"] = round(time.perf_counter() - t_start, 1)
    results["train_seconds_total"] = round(
        sum(r["train_seconds"] for a in results["variants"].values() for r in a["runs"]), 1
    )
    _atomic_json(out / "results.json", results)
    (out / "results.md").write_text(markdown_table(results))
    plot_curves(results, out / "curves.png")
    if args.docs:
        docs = Path(args.docs)
        docs.mkdir(parents=True, exist_ok=True)
        for name in ("results.json", "results.md", "curves.png"):
            if (out / name).exists():
                shutil.copy(out / name, docs / f"{args.prefix}_{name}")
    print(markdown_table(results))
    return results


def _fmt_ci(d: dict[str, Any]) -> str:
    lo, hi = d["ci95"]
    if not math.isfinite(lo):
        return f"{d['mean']:+.2f}"
    return f"{d['mean']:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def markdown_table(results: dict[str, Any]) -> str:
    """The results as Markdown: the Table 1/2 analogue per evaluation set (mean ± std over seeds, paper
    numbers beside), the paired per-seed difference to ``mbnet`` with its 95% interval, and the
    precondition (every learned variant vs ``bicubic-flow``)."""
    seeds = len(results["seeds"])
    lines: list[str] = []
    names = {"photos": "held-out photo clips", "synthetic": "held-out synthetic clips", "real": "real video clips"}
    for set_name in results.get("eval_sets", ["synthetic"]):
        lines += [
            f"**{names.get(set_name, set_name)}** — Y-PSNR (dB), mean ± std over {seeds} seeds",
            "",
            "| variant | params | VSR frames | VFI frames | average | paper VSR / VFI / avg |",
            "|---|---|---|---|---|---|",
        ]
        for name, agg in results["variants"].items():
            if set_name not in agg:
                continue
            row = agg[set_name]

            def cell(metric: str, row: dict[str, Any] = row) -> str:
                m, s = row[metric]
                return f"{m:.2f} ± {s:.2f}"

            paper = agg.get("paper")
            ptxt = f"{paper['vsr']:.2f} / {paper['vfi']:.2f} / {paper['avg']:.2f}" if paper else "—"
            lines.append(
                f"| `{name}` — {agg['description']} | {agg.get('params', 0):,} | {cell('vsr')} | "
                f"{cell('vfi')} | {cell('avg')} | {ptxt} |"
            )
        for label, b in results.get("baselines", {}).items():
            sc = b.get(set_name, b if "avg" in b else None)
            if sc:
                lines.append(
                    f"| `{label}` — parameter-free baseline | 0 | {sc['vsr']:.2f} | {sc['vfi']:.2f} | "
                    f"{sc['avg']:.2f} | — |"
                )
        lines.append("")
        paired = [
            (n, a["paired_vs_mbnet"][set_name])
            for n, a in results["variants"].items()
            if set_name in a.get("paired_vs_mbnet", {})
        ]
        if paired:
            lines += [
                f"Paired difference to `mbnet` (same seed), {names.get(set_name, set_name)}: mean "
                "[95% t interval], p of a paired t-test on the average",
                "",
                "| variant − mbnet | VSR frames | VFI frames | average | p (average) |",
                "|---|---|---|---|---|",
            ]
            for n, p in paired:
                lines.append(
                    f"| `{n}` | {_fmt_ci(p['vsr'])} | {_fmt_ci(p['vfi'])} | {_fmt_ci(p['avg'])} | {p['avg']['p']:.3f} |"
                )
            lines.append("")
    pre = results.get("precondition")
    if pre:
        worst = min(pre["margins_db"].items(), key=lambda kv: kv[1]) if pre["margins_db"] else ("—", float("nan"))
        lines.append(
            f"Precondition (every learned variant ≥ {pre['required_db']} dB above `{pre['baseline']}` on the "
            f"average, {names.get(pre['set'], pre['set'])}): **{'met' if pre['met'] else 'not met'}** — "
            f"smallest margin {worst[1]:+.2f} dB (`{worst[0]}`)."
        )
        lines.append("")
    ev = results.get("eval", {})
    lines.append(
        f"Protocol {results['protocol']} (LR kernel {results.get('lr_kernel') or 'protocol default'}); "
        f"{ev.get('clips', '?')} clips of {tuple(ev.get('size', ()))} × {ev.get('frames', '?')} frames; "
        f"training time {results.get('train_seconds_total', 0) / 60:.1f} min summed over runs "
        f"({results['threads']} thread(s) per run, {results.get('jobs', 1)} run(s) at a time, torch "
        f"{results['torch']})."
    )
    return "\n".join(lines) + "\n"


def plot_curves(results: dict[str, Any], path: Path) -> Path | None:
    """Fig. 6 analogue: validation PSNR vs step per variant (mean and range over seeds), with the
    parameter-free baselines on the same validation windows as reference lines."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {
        "mbnet": "-",
        "no_interaction": "--",
        "no_vfi_feedback": ":",
        "no_feature": "-.",
        "cascade_vfi_vsr": (0, (5, 1, 1, 1)),
    }
    for name, agg in results["variants"].items():
        runs = [r["history"] for r in agg["runs"] if r["history"]]
        if not runs:
            continue
        n = min(len(r) for r in runs)
        steps = [h["step"] for h in runs[0][:n]]
        vals = [[h["val_psnr"] for h in r[:n]] for r in runs]
        mean = [statistics.fmean(v[i] for v in vals) for i in range(n)]
        lo = [min(v[i] for v in vals) for i in range(n)]
        hi = [max(v[i] for v in vals) for i in range(n)]
        ax.plot(
            steps,
            mean,
            linestyle=styles.get(name, "-"),
            lw=2 if name == "mbnet" else 1.3,
            label=f"{name} (mean of {len(vals)} seeds)",
        )
        ax.fill_between(steps, lo, hi, alpha=0.12)
    colours = {"bicubic-blend": "0.55", "bicubic-flow": "0.25"}
    for label, b in results.get("baselines", {}).items():
        if isinstance(b, dict) and b.get("val_psnr") is not None:
            ax.axhline(b["val_psnr"], color=colours.get(label, "0.4"), lw=1, linestyle=(0, (2, 2)))
            ax.annotate(
                label,
                (ax.get_xlim()[0], b["val_psnr"]),
                xytext=(4, 2),
                textcoords="offset points",
                fontsize=8,
                color=colours.get(label, "0.4"),
            )
    ax.set_xlabel("training step")
    ax.set_ylabel("validation PSNR (dB, RGB, 3 frames)")
    ax.set_title("Convergence of the ablation variants (held-out validation windows)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ablation.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--budget",
        choices=sorted(BUDGETS),
        default="photos",
        help="photos (CPU, photo-textured video; default), small (CPU, sinusoid textures) or paper (plan only)",
    )
    p.add_argument(
        "--variants", default=None, help=f"comma-separated subset (default for photos: {','.join(PHOTO_VARIANTS)})"
    )
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3)")
    p.add_argument("--steps", type=int, default=None, help="override training steps per run")
    p.add_argument("--quick", action="store_true", help="a few steps on tiny data (tests)")
    p.add_argument("--out", default="outputs/ablation")
    p.add_argument("--docs", default=None, help="also copy results.json/results.md/curves.png into this folder")
    p.add_argument("--prefix", default="ablation", help="file prefix of the --docs copies (<prefix>_results.json ...)")
    p.add_argument("--eval-layout", default="video", help="layout of --eval-root (video: a file or a folder of files)")
    p.add_argument("--eval-root", default=None, help="also evaluate on real clips under this root")
    p.add_argument("--eval-limit", type=int, default=None, help="at most this many real clips")
    p.add_argument("--eval-frames", type=int, default=None, help="at most this many frames per real clip")
    p.add_argument(
        "--baselines",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also evaluate the bicubic-blend and bicubic-flow baselines on the same clips",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep variants of an existing results.json in --out that this invocation does not list",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs trained at once, each in its own process with --threads threads (2 on a 2-core CPU)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per run (default: 1 with --jobs > 1, else min(2, cores))",
    )
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--print-plan", action="store_true", help="print the per-run configs and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = [a for a in argv if a != "--no-progress"]
    if args.jobs < 1:
        raise SystemExit(f"--jobs: expected a positive integer, got {args.jobs}")
    if args.threads is None:
        args.threads = 1 if args.jobs > 1 else max(1, min(2, torch.get_num_threads()))
    if args.print_plan or args.budget == "paper":
        b = BUDGETS[args.budget]
        if args.budget != "paper":  # the resolved config of the first run; the others differ only as listed
            from dataclasses import asdict

            variants = [v for v in args.variants.split(",") if v] if args.variants is not None else b["variants"]
            seeds = list(range(args.seeds)) if args.seeds else b["seeds"]
            cfg = _variant_config(b["config"], variants[0], seeds[0], args.quick, args.steps)
            b = {
                "runs": [f"{v} seed {s}" for v, s in _tasks(variants, seeds)],
                "differs_between_runs": ["model.variant", "train.seed"],
                "config": asdict(cfg),
                "eval": b["eval"],
            }
        print(json.dumps(b, indent=2, default=str))
        if args.budget == "paper":
            print(
                "The paper budget is a plan: run each (variant, seed) with the command above on a GPU machine, "
                "then evaluate with `stvsr eval --layout vimeo-septuplet`."
            )
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
