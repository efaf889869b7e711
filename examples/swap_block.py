"""Swap one block of MBnet for another and compare: the loop does not care which module fills a role.

Starts from the tiny MBnet preset and replaces, one at a time, the flow estimator (OFR -> the
parameter-free classical estimator), the flow refiner (PAC -> bilinear upsampling) and the VFI net
(GridNet -> U-Net), printing parameter counts and checking that every variant runs.

    python examples/swap_block.py
"""

from __future__ import annotations

import torch

from stvsr_blocks import InteractionLoop
from stvsr_blocks.flow.classical import ClassicalFlowEstimator
from stvsr_blocks.models import count_parameters, mbnet_tiny
from stvsr_blocks.vfi import UNetVFI, UNetVFIConfig


def variants() -> dict[str, InteractionLoop]:
    base = mbnet_tiny()
    fc = base.vsr.feature_channels

    def rebuild(**parts) -> InteractionLoop:
        kw = dict(flow=base.flow, vsr=base.vsr, vfi=base.vfi, refiner=base.refiner, iterations=base.iterations,
                  feedback=base.feedback, feature="vsr")
        kw.update(parts)
        return InteractionLoop(**kw)

    return {
        "mbnet_tiny": base,
        "classical flow": rebuild(flow=ClassicalFlowEstimator()),
        "no refiner": rebuild(refiner=None),
        "U-Net VFI": rebuild(vfi=UNetVFI(UNetVFIConfig(widths=(8, 16, 24), feature_channels=fc))),
    }


def main() -> dict[str, tuple[int, tuple[int, ...]]]:
    torch.manual_seed(0)
    lr0, lr1 = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    results = {}
    for name, model in variants().items():
        with torch.inference_mode():
            out = model.eval()(lr0, lr1)
        results[name] = (count_parameters(model), tuple(out.frames[1].shape))
        print(f"{name:15s} {results[name][0]:>9,d} parameters -> middle frame {results[name][1]}")
    return results


if __name__ == "__main__":
    main()
