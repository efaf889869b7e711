"""Build your own STVSR model and train it with the recipe's loop: a user-defined VSR net and VFI net
composed by InteractionLoop, trained by :func:`stvsr_blocks.recipe.fit.fit`.

Nothing in the library is edited: the two nets below subclass the public interfaces, pass the
conformance checkers, and train on synthetic video with the library's loss through ``fit()``, which
brings exact resume, AMP, DDP (``torchrun``), ``log.csv``/TensorBoard/curves and atomic checkpoints:

    python examples/custom_model.py --steps 30 --out runs/custom
    python examples/custom_model.py --steps 60 --out runs/custom --resume auto   # continue, bit-exact

The checkpoints hold the state dict and the metadata passed to ``fit(metadata=...)``; rebuild the model
with :func:`build_model` and load ``checkpoint.weights`` (see :func:`load_trained`).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stvsr_blocks import InteractionLoop, VFIInput, VFINet, VSRInput, VSRNet, VSROutput
from stvsr_blocks.data.degrade import make_stvsr_pair
from stvsr_blocks.data.synthetic import SyntheticVideoConfig, SyntheticVideoDataset, heldout_synthetic_dataset
from stvsr_blocks.data.train import STVSRTrainDataset
from stvsr_blocks.flow.ofr import OFRConfig, OFRFlowNet
from stvsr_blocks.losses import LossConfig, MBnetLoss
from stvsr_blocks.ops import space_to_depth
from stvsr_blocks.recipe.checkpoint import load_checkpoint
from stvsr_blocks.recipe.config import LogSection, TrainSection
from stvsr_blocks.recipe.fit import fit, validate
from stvsr_blocks.testing import check_vfi_net, check_vsr_net


class MyVSR(VSRNet):
    """A small residual CNN: sees the LR pair, the warped LR pair and the (space-to-depth) feedback."""

    scale = 4
    feature_channels = 32

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        cin = 6 + 6 + 6 * 16  # LR pair, warped LR pair, feedback pair (s2d)
        self.head = nn.Conv2d(cin, width, 3, padding=1)
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.tail = nn.Conv2d(width, 6 * 16, 3, padding=1)

    def forward(self, x: VSRInput) -> VSROutput:
        fb = space_to_depth(torch.cat((x.feedback0, x.feedback1), 1), 4)
        feat = self.head(torch.cat((x.lr0, x.lr1, x.lr_warped0, x.lr_warped1, fb), 1))
        res = F.pixel_shuffle(self.tail(self.body(feat)), 4)
        base = torch.cat((x.sr_prev0, x.sr_prev1), 1)
        out = base + res
        return VSROutput(out[:, :3], out[:, 3:], feat)


class MyVFI(VFINet):
    """Predicts a per-pixel blending mask and a residual from the warped frames and the feature."""

    scale = 4
    feature_channels = 32

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(6 + 2, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 4, 3, padding=1))

    def forward(self, x: VFIInput) -> torch.Tensor:
        b, _, h, w = x.warped0.shape
        feat = x.feature if x.feature is not None else x.warped0.new_zeros(b, 32, h // 4, w // 4)
        f = F.interpolate(feat[:, :2], size=(h, w), mode="bilinear", align_corners=False)
        m = self.net(torch.cat((x.warped0, x.warped1, f), 1))
        mask = torch.sigmoid(m[:, :1])
        return mask * x.warped0 + (1 - mask) * x.warped1 + 0.1 * m[:, 1:]


def build_model(seed: int = 0) -> InteractionLoop:
    """The custom model (deterministic initial weights for ``seed``)."""
    torch.manual_seed(seed)
    return InteractionLoop(flow=OFRFlowNet(OFRConfig(channels=16, n_resb=1)), vsr=MyVSR(), vfi=MyVFI(),
                           refiner=None, iterations=2, feedback=True, feature="vsr")


def build_data(size: int = 64, n_clips: int = 8, seed: int = 0) -> tuple[STVSRTrainDataset, list]:
    """Training windows (synthetic clips, whole ``size``×``size`` frames) and held-out validation windows."""
    video = SyntheticVideoConfig(height=size, width=size, frames=3)
    train_data = STVSRTrainDataset(SyntheticVideoDataset(n_clips, video, seed=seed), lr_patch=size // 4, scale=4,
                                   augment=True, seed=seed, num_frames=3)
    val = []
    for clip in heldout_synthetic_dataset(2, video):
        lr, hr = make_stvsr_pair(clip.hr[:3], 4, "matlab")
        val.append((lr.unsqueeze(0), hr.unsqueeze(0)))
    return train_data, val


def load_trained(checkpoint: str | Path) -> InteractionLoop:
    """Rebuild the custom model from one of its checkpoint folders (``fit`` saves the state dict)."""
    model = build_model()
    model.load_state_dict(load_checkpoint(checkpoint).weights)
    return model


def main(steps: int = 30, seed: int = 0, out: str | Path | None = None, resume: str | None = None,
         stop_after: int | None = None, progress: bool = False) -> dict[str, float]:
    check_vsr_net(MyVSR())  # raises ConformanceError with a precise message if a contract is broken
    check_vfi_net(MyVFI())
    model = build_model(seed)
    train_data, val = build_data(seed=seed)
    before = validate(model, val, device=torch.device("cpu"))["val_psnr"]
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(
            model, MBnetLoss(LossConfig.paper()), train_data, val_data=val, out_dir=out or tmp, resume=resume,
            train=TrainSection(steps=steps, batch_size=2, lr=1e-3, device="cpu", seed=seed, stop_after=stop_after),
            log=LogSection(every=5, val_every=steps, ckpt_every=max(1, steps // 3), keep_last=2,
                           tensorboard=False, curves=out is not None),
            name="custom_model", metadata={"example": "custom_model", "seed": seed}, progress=progress,
        )
    after = result.history[-1].get("val_psnr", float("nan")) if result.history else float("nan")
    print(f"custom model: {sum(p.numel() for p in model.parameters()):,} parameters")
    print(f"validation PSNR before training {before:.2f} dB, after {result.step} steps {after:.2f} dB")
    return {"before": before, "after": after, "loss": result.history[-1]["loss"], "step": result.step}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default: a temporary folder)")
    p.add_argument("--resume", help="'auto' or a checkpoint folder")
    p.add_argument("--stop-after", type=int, help="stop (with a checkpoint) at this step")
    a = p.parse_args()
    main(a.steps, a.seed, a.out, a.resume, a.stop_after, progress=True)
