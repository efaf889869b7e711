"""Backward warping of images by dense optical flow.

Flow convention (library-wide): ``flow_{a->b}`` is defined on frame b's pixel grid and points into
frame a, so ``backward_warp(I_a, flow_{a->b}) ~= I_b``. Channel 0 is the horizontal (x) displacement,
channel 1 the vertical (y) one, both in pixels of the tensor's own resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stvsr_blocks._check import check_shape

__all__ = ["backward_warp", "BackwardWarp", "base_grid"]


def base_grid(height: int, width: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Pixel-coordinate mesh grid.

    Args:
        height: number of rows H.
        width: number of columns W.
        device: device of the result.
        dtype: dtype of the result.

    Returns:
        Tensor of shape ``(1, 2, H, W)``; channel 0 holds x (column index), channel 1 y (row index).

    Example:
        >>> base_grid(2, 3)[0, 0]
        tensor([[0., 1., 2.],
                [0., 1., 2.]])
    """
    ys = torch.arange(height, device=device, dtype=dtype or torch.get_default_dtype())
    xs = torch.arange(width, device=device, dtype=dtype or torch.get_default_dtype())
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), dim=0).unsqueeze(0)


def backward_warp(image: Tensor, flow: Tensor) -> Tensor:
    r"""Warp ``image`` by sampling it at ``p + flow(p)`` for every output pixel ``p``.

    $$\text{out}(p) = \text{image}\big(p + \text{flow}(p)\big)$$

    evaluated with bilinear interpolation (``grid_sample`` with ``align_corners=True``) and
    border padding: samples outside the image take the value of the nearest border pixel.

    Args:
        image: source frame ``I_a`` of shape ``(B, C, H, W)``, any channel count.
        flow: backward flow ``flow_{a->b}`` of shape ``(B, 2, H, W)`` on the output grid, in pixels;
            channel 0 = x, channel 1 = y.

    Returns:
        The warped image of shape ``(B, C, H, W)``, approximately ``I_b``, in the wider of the two
        input dtypes (mixed dtypes occur under autocast).

    Raises:
        TypeError: if an argument is not a floating-point tensor.
        ValueError: if shapes, batch sizes or spatial sizes disagree, or the devices differ.

    Shape:
        - image: $(B, C, H, W)$
        - flow: $(B, 2, H, W)$
        - output: $(B, C, H, W)$

    Example:
        >>> img = torch.arange(12.0).reshape(1, 1, 3, 4)
        >>> flow = torch.zeros(1, 2, 3, 4)
        >>> flow[:, 0] = 1.0  # sample one pixel to the right
        >>> backward_warp(img, flow)[0, 0]
        tensor([[ 1.,  2.,  3.,  3.],
                [ 5.,  6.,  7.,  7.],
                [ 9., 10., 11., 11.]])
    """
    check_shape(image, ["B", "C", "H", "W"], "image")
    check_shape(flow, ["B", 2, "H", "W"], "flow")
    if image.shape[0] != flow.shape[0] or image.shape[-2:] != flow.shape[-2:]:
        raise ValueError(
            "image and flow must share batch size and spatial size: got image "
            f"{tuple(image.shape)} and flow {tuple(flow.shape)}"
        )
    if image.dtype != flow.dtype:  # e.g. bf16 features and fp32 flows under autocast: sample in the wider type
        common = torch.promote_types(image.dtype, flow.dtype)
        image, flow = image.to(common), flow.to(common)
    if image.device != flow.device:
        raise ValueError(f"image and flow must be on the same device: got {image.device} and {flow.device}")
    _, _, h, w = image.shape
    grid = base_grid(h, w, device=flow.device, dtype=flow.dtype) + flow
    # Normalise pixel coordinates to [-1, 1] for align_corners=True (pixel centres at the ends).
    gx = grid[:, 0] * (2.0 / max(w - 1, 1)) - 1.0
    gy = grid[:, 1] * (2.0 / max(h - 1, 1)) - 1.0
    if w == 1:
        gx = torch.zeros_like(gx)
    if h == 1:
        gy = torch.zeros_like(gy)
    norm = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(image, norm, mode="bilinear", padding_mode="border", align_corners=True)


class BackwardWarp(nn.Module):
    """Module form of :func:`backward_warp` (no parameters).

    Example:
        >>> warp = BackwardWarp()
        >>> warp(torch.ones(1, 3, 4, 4), torch.zeros(1, 2, 4, 4)).shape
        torch.Size([1, 3, 4, 4])
    """

    def forward(self, image: Tensor, flow: Tensor) -> Tensor:
        """Warp ``image`` by ``flow``; see :func:`backward_warp`.

        Args:
            image: ``(B, C, H, W)`` source frame.
            flow: ``(B, 2, H, W)`` backward flow in pixels.

        Returns:
            ``(B, C, H, W)`` warped frame.
        """
        return backward_warp(image, flow)
