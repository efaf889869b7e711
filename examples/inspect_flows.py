"""Run MBnet on synthetic frames with known motion and save flow visualisations.

Trains the tiny preset for a few steps on one synthetic clip (so its flows are not random), then
writes, to ``--out`` (default ``outputs/inspect_flows``), a PNG grid with the LR input frames, the
estimated LR flow ``flow_0to1``, the ground-truth flow at LR, and the HR mid flows of the last
iteration, plus the three output frames. Flow colours use torchvision's ``flow_to_image``.

    python examples/inspect_flows.py [--steps 40] [--out outputs/inspect_flows]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torchvision.utils import flow_to_image, save_image

from stvsr_blocks.data.degrade import downscale
from stvsr_blocks.data.synthetic import SyntheticVideoConfig, render_synthetic_clip
from stvsr_blocks.losses import LossConfig, MBnetLoss
from stvsr_blocks.models import mbnet_tiny
from stvsr_blocks.ops import resize_flow


def _flow_rgb(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    img = flow_to_image(flow.detach().float()).float() / 255.0
    return torch.nn.functional.interpolate(img, size=size, mode="nearest")


def main(steps: int = 40, out: str = "outputs/inspect_flows", seed: int = 0) -> Path:
    torch.manual_seed(seed)
    clip = render_synthetic_clip(SyntheticVideoConfig(height=64, width=64, frames=3, max_speed=3.0, seed=seed))
    hr = clip.hr.unsqueeze(0)
    lr = downscale(hr[:, ::2].flatten(0, 1), 4, kernel="matlab").view(1, 2, 3, 16, 16)
    model = mbnet_tiny()
    loss_fn = MBnetLoss(LossConfig.paper())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        terms = loss_fn(model(lr[:, 0], lr[:, 1]), hr, lr)
        opt.zero_grad()
        terms.total.backward()
        opt.step()
    with torch.no_grad():
        res = model.eval()(lr[:, 0], lr[:, 1])
    # ground truth: flow warping frame 0 onto frame 2 (two HR steps), at LR resolution
    from stvsr_blocks.data.synthetic import synthetic_flow

    gt_hr, _ = synthetic_flow(clip, 0.0, 2.0)
    gt_lr = resize_flow(gt_hr.unsqueeze(0) if gt_hr.ndim == 3 else gt_hr, scale=0.25, mode="area")
    size = tuple(hr.shape[-2:])
    up = lambda x: torch.nn.functional.interpolate(x, size=size, mode="nearest")  # noqa: E731
    row1 = [up(lr[:, 0]), up(lr[:, 1]), _flow_rgb(res.flows_lr.flow_0to1, size), _flow_rgb(gt_lr, size)]
    row2 = [res.frames[0], res.frames[1].clamp(0, 1), res.frames[2].clamp(0, 1),
            _flow_rgb(res.mid_flows_hr.flow_0tot, size)]
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "flows.png"
    save_image(torch.cat(row1 + row2).clamp(0, 1), path, nrow=4, padding=2)
    epe = (res.flows_lr.flow_0to1 - gt_lr).norm(dim=1).mean().item()
    print(f"saved {path}; LR flow end-point error vs ground truth: {epe:.3f} px (after {steps} steps)")
    return path


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--out", default="outputs/inspect_flows")
    a = p.parse_args()
    main(a.steps, a.out)
