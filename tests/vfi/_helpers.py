"""Input builder shared by the VFI net tests."""

from __future__ import annotations

import torch

from stvsr_blocks.interfaces import MidFlows, VFIInput


def vfi_input(batch=1, size=(16, 16), fc=16, dtype=torch.float32, feature=True, requires_grad=False) -> VFIInput:
    """Random warped frames (zero flows) and, when ``feature`` and ``fc``, an LR feature of ``fc`` channels."""
    h, w = size

    def r(*s):
        return torch.rand(*s, dtype=dtype, requires_grad=requires_grad)

    z = torch.zeros(batch, 2, h, w, dtype=dtype)
    feat = r(batch, fc, h // 4, w // 4) if (feature and fc) else None
    w0, w1 = r(batch, 3, h, w), r(batch, 3, h, w)
    return VFIInput(w0, w1, w0.detach(), w1.detach(), MidFlows(z, z), feat)
