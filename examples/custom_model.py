"""Build your own STVSR model: a user-defined VSR net and VFI net composed by InteractionLoop.

Nothing in the library is edited: the two nets below subclass the public interfaces, pass the
conformance checkers, and train for a few steps on synthetic video with the library's loss.

    python examples/custom_model.py [--steps 30]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from stvsr_blocks import InteractionLoop, VFIInput, VFINet, VSRInput, VSRNet, VSROutput
from stvsr_blocks.data.degrade import downscale
from stvsr_blocks.data.synthetic import SyntheticVideoConfig, render_synthetic_clip
from stvsr_blocks.flow.ofr import OFRConfig, OFRFlowNet
from stvsr_blocks.losses import LossConfig, MBnetLoss
from stvsr_blocks.metrics import psnr
from stvsr_blocks.ops import space_to_depth
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


def main(steps: int = 30, seed: int = 0) -> dict[str, float]:
    torch.manual_seed(seed)
    check_vsr_net(MyVSR())  # raises ConformanceError with a precise message if a contract is broken
    check_vfi_net(MyVFI())
    model = InteractionLoop(flow=OFRFlowNet(OFRConfig(channels=16, n_resb=1)), vsr=MyVSR(), vfi=MyVFI(),
                            refiner=None, iterations=2, feedback=True, feature="vsr")
    loss_fn = MBnetLoss(LossConfig.paper())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    clip = render_synthetic_clip(SyntheticVideoConfig(height=64, width=64, frames=3, seed=seed))
    hr = clip.hr.unsqueeze(0)  # (1, 3, 3, 64, 64): HR frames t-1, t, t+1
    lr = downscale(hr[:, ::2].flatten(0, 1), 4, kernel="matlab").view(1, 2, 3, 16, 16)

    def score() -> float:
        with torch.no_grad():
            out = model(lr[:, 0], lr[:, 1])
        return float(psnr(out.frames[1].clamp(0, 1), hr[:, 1], channel="y").mean())

    before = score()
    for _ in range(steps):
        out = model(lr[:, 0], lr[:, 1])
        terms = loss_fn(out, hr, lr)
        opt.zero_grad()
        terms.total.backward()
        opt.step()
    after = score()
    print(f"custom model: {sum(p.numel() for p in model.parameters()):,} parameters")
    print(f"middle-frame PSNR(Y) before training {before:.2f} dB, after {steps} steps {after:.2f} dB")
    return {"before": before, "after": after, "loss": float(terms.total.detach())}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=30)
    main(p.parse_args().steps)
