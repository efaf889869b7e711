"""Copy a trained run's final weights into the package as a shipped model, with its card facts.

    python scripts/ship_model.py --run runs/mbnet_photo --folder mbnet_photo --commit <sha>

Writes ``stvsr_blocks/pretrained/<folder>/{model.safetensors, config.json, card.json}`` and prints the
SHA-256 to put into :data:`stvsr_blocks.pretrained.PRETRAINED`. ``card.json`` records the training
facts (config, steps, wall time, commit, parameters, conv/matmul FLOPs per output pixel) and the
figures of the regression clip that ``tests/test_pretrained.py`` recomputes (within 0.05 dB).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

#: The fixed, small held-out clip whose figures the card records and the regression test recomputes.
REGRESSION_CLIP = {"photos": "test", "seed": 0, "height": 64, "width": 64, "times": [0.0, 0.5, 1.0, 1.5, 2.0],
                   "lr_kernel": "pil", "protocol": "stvsr-vid4"}


def flops_per_output_pixel(model: torch.nn.Module, h: int = 32, w: int = 32) -> float:
    """Convolution/matmul FLOPs of one model call per new output pixel (two new HR frames per call at ×2).

    Args:
        model: the model.
        h: LR height of the probe.
        w: LR width of the probe.

    Returns:
        FLOPs per output pixel (ops the flop counter does not see, e.g. ``grid_sample`` and the
        classical flow's elementwise work, are not included).
    """
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, h, w)
    with torch.inference_mode(), FlopCounterMode(display=False) as fc:
        model(x, x)
    s = int(getattr(model, "scale", 4))
    return fc.get_total_flops() / (2 * h * s * w * s)


def regression_figures(model: torch.nn.Module) -> dict:
    """Y-PSNR of the regression clip's super-resolved and interpolated frames.

    Args:
        model: the model.

    Returns:
        :data:`REGRESSION_CLIP` plus ``psnr_y_vsr`` and ``psnr_y_vfi``.
    """
    from stvsr_blocks.data.photo import PhotoVideoConfig, PhotoVideoDataset
    from stvsr_blocks.metrics import get_protocol
    from stvsr_blocks.recipe.evaluate import EvalClip, evaluate_models

    r = REGRESSION_CLIP
    cfg = PhotoVideoConfig(height=r["height"], width=r["width"], times=tuple(r["times"]))
    clip = PhotoVideoDataset(r["photos"], 1, cfg, seed=r["seed"])[0]
    scores = evaluate_models({"m": model.eval()}, [EvalClip(clip.name, clip.hr)], get_protocol(r["protocol"]),
                             lr_kernel=r["lr_kernel"])
    g = scores["m"].accumulator.summary().groups
    return {**r, "psnr_y_vsr": round(g["vsr"]["psnr_y"], 4), "psnr_y_vfi": round(g["vfi"]["psnr_y"], 4)}


def main(argv: list[str] | None = None) -> int:
    """Ship a run.

    Args:
        argv: command line.

    Returns:
        0.
    """
    from stvsr_blocks.models import count_parameters, load_pretrained
    from stvsr_blocks.pretrained import sha256_file

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="training run folder (with final/ and log.csv)")
    ap.add_argument("--folder", required=True, help="folder name under stvsr_blocks/pretrained/")
    ap.add_argument("--commit", required=True, help="commit the run was trained from")
    ap.add_argument("--command", default="", help="the command that trained it")
    args = ap.parse_args(argv)
    final = args.run / "final"
    dest = ROOT / "stvsr_blocks" / "pretrained" / args.folder
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "config.json"):
        shutil.copyfile(final / name, dest / name)
    model = load_pretrained(dest).eval()
    rows = list(csv.DictReader(open(args.run / "log.csv", encoding="utf-8")))
    last = rows[-1]
    vals = [r for r in rows if r.get("val_psnr")]
    import yaml

    card = {
        "name": args.folder,
        "commit": args.commit,
        "command": args.command,
        "config": yaml.safe_load((args.run / "config.yaml").read_text()),
        "steps": int(float(last["step"])),
        "wall_time_s": round(float(last["elapsed_s"]), 1),
        "parameters": count_parameters(model, trainable_only=False),
        "flops_per_output_pixel": round(flops_per_output_pixel(model)),
        "final_validation": {"val_psnr": float(vals[-1]["val_psnr"]), "val_psnr_mid": float(vals[-1]["val_psnr_mid"])}
        if vals else None,
        "regression": regression_figures(model),
        "torch": torch.__version__,
    }
    (dest / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({k: v for k, v in card.items() if k != "config"}, indent=2))
    print(f"sha256 {sha256_file(dest / 'model.safetensors')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
