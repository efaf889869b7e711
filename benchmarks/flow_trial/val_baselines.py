"""Validation PSNR of the baselines (and of trained models) on a training config's validation clips.

    python benchmarks/flow_trial/val_baselines.py CONFIG.yaml [MODEL_DIR ...]
"""

from __future__ import annotations

import sys

import torch

from stvsr_blocks.models import bicubic_blend, bicubic_flow, load_pretrained
from stvsr_blocks.recipe.config import TrainRunConfig, load_config
from stvsr_blocks.recipe.train import build_validation_clips, validate


def main(argv: list[str]) -> int:
    """Print ``validate()`` of bicubic-blend, bicubic-flow and each model folder given.

    Args:
        argv: the config path, then model folders.

    Returns:
        0.
    """
    cfg = load_config(TrainRunConfig, argv[0], [])
    clips = build_validation_clips(cfg)
    models = [("bicubic-blend", bicubic_blend()), ("bicubic-flow", bicubic_flow())]
    models += [(p, load_pretrained(p)) for p in argv[1:]]
    for name, model in models:
        print(name, validate(model, clips, device=torch.device("cpu")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
