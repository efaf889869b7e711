"""External context-feature extractors for the VFI net (paper Table 1 row 2)."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stvsr_blocks._check import check_positive_int, check_shape
from stvsr_blocks.interfaces import FeatureExtractor

__all__ = ["TimmFeatureExtractor"]


class TimmFeatureExtractor(FeatureExtractor):
    """Context features from the first stage of a timm backbone (e.g. a ResNet), as in DAIN/CtxSyn.

    Each LR frame is upsampled ×2 and passed through the backbone's stem
    (``features_only=True, out_indices=(0,)``, stride 2), giving a feature at LR resolution; the
    two frames' features are concatenated and fused by a 1×1 convolution to ``out_channels``.

    Args:
        model_name: timm model name (``"resnet18"``, ``"resnet34"``, ...).
        out_channels: channels of the returned feature (must equal the VFI net's
            ``feature_channels``).
        weights: optional local file (``.safetensors`` or a ``torch.save`` state dict) with the
            backbone's pretrained weights; nothing is downloaded. ``None``: random initialisation.
        freeze: keep the backbone fixed (only the fusion convolution trains).

    Raises:
        FileNotFoundError: if ``weights`` does not exist.

    Example:
        >>> ext = TimmFeatureExtractor("resnet18", out_channels=64)
        >>> ext(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)).shape
        torch.Size([1, 64, 16, 16])
    """

    def __init__(self, model_name: str = "resnet18", out_channels: int = 64, weights: str | os.PathLike | None = None,
                 freeze: bool = False) -> None:
        super().__init__()
        import timm

        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.model_name = model_name
        self.backbone = timm.create_model(model_name, pretrained=False, features_only=True, out_indices=(0,))
        if weights is not None:
            path = os.fspath(weights)
            if not os.path.exists(path):
                raise FileNotFoundError(f"weights: no file at {path!r} (pass a local timm/torchvision state dict)")
            if path.endswith(".safetensors"):
                from safetensors.torch import load_file

                state = load_file(path)
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
            self.backbone.load_state_dict(state, strict=False)
        self.freeze = bool(freeze)
        if self.freeze:
            self.backbone.requires_grad_(False)
        ch = self.backbone.feature_info.channels()[0]
        self.fuse = nn.Conv2d(2 * ch, self.out_channels, 1)
        mean = torch.tensor(self.backbone.pretrained_cfg.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1)
        std = torch.tensor(self.backbone.pretrained_cfg.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def forward(self, frame0: Tensor, frame1: Tensor) -> Tensor:
        """Extract and fuse the two frames' features.

        Args:
            frame0: ``(B, 3, h, w)`` LR frame 0 in ``[0, 1]``.
            frame1: ``(B, 3, h, w)`` LR frame 1.

        Returns:
            ``(B, out_channels, h, w)``.
        """
        check_shape(frame0, ["B", 3, "h", "w"], "frame0")
        check_shape(frame1, ["B", 3, "h", "w"], "frame1")
        b, _, h, w = frame0.shape
        x = torch.cat((frame0, frame1), 0)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        f = self.backbone((x - self.mean) / self.std)[0]
        if f.shape[-2:] != (h, w):
            f = F.interpolate(f, size=(h, w), mode="bilinear", align_corners=False)
        return self.fuse(torch.cat((f[:b], f[b:]), 1))
