r"""A frozen torchvision RAFT as the flow teacher of the supervised flow loss (paper Eq. 9-10, SPEC §8).

:class:`RAFTTeacher` returns flows with the **library's** meaning, so that a teacher flow and a
student flow can be compared directly in $\mathcal{L}^{FLOW}$:
``teacher(frame_a, frame_b)`` is ``flow_{a->b}`` and ``backward_warp(frame_a, flow_{a->b}) ~= frame_b``.

**Orientation (ambiguity A7).** torchvision's ``RAFT.forward(image1, image2)`` estimates a flow on
``image1``'s grid that points into ``image2``, i.e. ``backward_warp(image2, RAFT(image1, image2))
~= image1``. In ``torchvision/models/optical_flow/raft.py`` (torchvision 0.29):

- ``coords0 = make_coords_grid(batch_size, h // 8, w // 8)`` and ``coords1 = ...`` (lines 516-517)
  are pixel grids of ``fmap1``, the features of ``image1``; the context encoder, which initialises
  the recurrent state, also sees ``image1`` only (``context_out = self.context_encoder(image1)``,
  line 499);
- ``CorrBlock._compute_corr_volume`` (lines 424-430) computes ``matmul(fmap1.transpose(1, 2), fmap2)``
  viewed as ``(B, h, w, 1, h, w)``: one correlation map over **fmap2**'s positions for every fmap1
  pixel; ``build_pyramid(fmap1, fmap2)`` (line 497) reshapes it to ``(B*h*w, 1, h, w)`` (line 388);
- ``corr_features = self.corr_block.index_pyramid(centroids_coords=coords1)`` (line 522) therefore
  samples, for each ``image1`` pixel ``p``, the correlation with ``image2`` at ``coords1(p)``
  (``index_pyramid``, lines 407-408: ``grid_sample(corr_volume, centroids_coords + delta)``);
- ``flow = coords1 - coords0`` (lines 524, 530): the returned flow at ``image1``'s pixel ``p`` is the
  displacement to its match in ``image2``; ``make_coords_grid`` (``optical_flow/_utils.py``) stacks
  the column (x) grid first, so channel 0 is x and channel 1 is y, as in the library.

So ``RAFT(image1, image2)`` is ``flow_{image2->image1}`` in the library convention, and
``flow_{a->b}`` is obtained as ``RAFT(frame_b, frame_a)``: this is what :class:`RAFTTeacher` calls
(the reverse of Eq. 9's literal argument order; tested on a synthetic shift in
``tests/flow/test_raft.py``).

**Size and cost facts (SPEC §8).** RAFT needs H and W divisible by 8 and at least 128 (its
correlation pyramid pools the 1/8-resolution feature map three times). :class:`RAFTTeacher` pads
with edge replication to ``max(min_size, ceil8)`` and crops the flow back, so any size works, but
flows on frames much smaller than 128 px are estimated on mostly padding (ambiguity A18: apply the
teacher to HR frames). ``raft_small`` has 990,162 parameters and ``raft_large`` 5,257,536. CPU time
with 2 threads and 12 updates: small 0.09 s at 128×128 and 0.44 s at 256×448; large 0.24 s and
1.60 s. Fewer updates (``num_flow_updates=6``) cut the cost roughly in proportion.

**Weights (no network access, ever).** ``weights="default"`` loads torchvision's ``DEFAULT``
weights (``Raft_Small_Weights.C_T_V2``, ``Raft_Large_Weights.C_T_SKHT_V2``) from the local torch hub
cache ``$TORCH_HOME/hub/checkpoints/`` (see :func:`torch.hub.get_dir`) and never downloads; place
the official file there (e.g. ``raft_small_C_T_V2-01064c6d.pth``) or pass the path of a ``.pth`` or
``.safetensors`` state dict.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import torch
from torch import Tensor, nn

from stvsr_blocks._check import check_positive_int, check_shape
from stvsr_blocks.ops.padding import crop_padding, pad_to_multiple

__all__ = ["RAFTTeacher", "raft_default_weights_path"]

_MODELS = ("small", "large")


def _weights_enum(model: str):  # noqa: ANN202 - torchvision WeightsEnum member
    from torchvision.models.optical_flow import Raft_Large_Weights, Raft_Small_Weights

    return Raft_Small_Weights.DEFAULT if model == "small" else Raft_Large_Weights.DEFAULT


def raft_default_weights_path(model: Literal["small", "large"] = "small") -> Path:
    """Where :class:`RAFTTeacher` looks for torchvision's ``DEFAULT`` RAFT weights.

    The path is ``<torch.hub.get_dir()>/checkpoints/<file name of the weights' URL>``, i.e.
    ``$TORCH_HOME/hub/checkpoints/raft_small_C_T_V2-01064c6d.pth`` for ``"small"`` and
    ``.../raft_large_C_T_SKHT_V2-ff5fadd5.pth`` for ``"large"``. The file is not required to exist.

    Args:
        model: ``"small"`` or ``"large"``.

    Returns:
        The expected path of the official checkpoint.

    Raises:
        ValueError: if ``model`` is not ``"small"`` or ``"large"``.

    Example:
        >>> raft_default_weights_path("small").name
        'raft_small_C_T_V2-01064c6d.pth'
    """
    if model not in _MODELS:
        raise ValueError(f"model: expected 'small' or 'large', got {model!r}")
    name = os.path.basename(urlparse(_weights_enum(model).url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def _load_into(net: nn.Module, path: Path) -> None:
    state = _load_state_dict(path)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"weights: {str(path)!r} does not match {type(net).__name__}: {err}") from err


def _load_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"weights: no such file {str(path)!r}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise TypeError(f"weights: {str(path)!r} does not hold a state dict (got {type(state).__name__})")
    return state


class RAFTTeacher(nn.Module):
    """Frozen torchvision RAFT returning ``flow_{a->b}`` in the library convention.

    The wrapped network is always in eval mode (``train()`` is a no-op that keeps it in eval; this
    matters for ``raft_large``, whose context encoder has BatchNorm), has ``requires_grad=False`` on
    every parameter and runs under :func:`torch.no_grad`, so the teacher never builds a graph and is
    safe to keep inside a training model. Frames in ``[0, 1]`` are mapped to RAFT's ``[-1, 1]``
    range (``2x - 1``, as the weights' ``transforms()`` do), replicate-padded on the right/bottom to a
    multiple of 8 and at least ``min_size`` in each dimension, and the flow is cropped back.

    Args:
        model: ``"small"`` (``raft_small``, 0.99M parameters) or ``"large"`` (``raft_large``, 5.26M).
            Ignored when ``module`` is given.
        weights: a local file path (``.pth``/``.pt`` loaded with
            ``torch.load(map_location="cpu", weights_only=True)``, or ``.safetensors``) holding a
            state dict for the network; ``"default"`` for torchvision's ``DEFAULT`` weights of
            ``model``, read only from ``$TORCH_HOME/hub/checkpoints/`` (never downloaded, see
            :func:`raft_default_weights_path`); or ``None`` for a random initialisation (plumbing and
            tests only; emits a ``UserWarning``). With a custom ``module``, ``"default"`` and
            ``None`` keep the module's weights as they are and a path is loaded into it.
        num_flow_updates: recurrent refinement steps; the last step's flow is returned.
        min_size: minimum padded height and width (RAFT's correlation pyramid needs 128).
        module: optional custom RAFT-like network replacing torchvision's: any ``nn.Module`` called
            as ``module(image1, image2, num_flow_updates=n)`` on ``(B, 3, H, W)`` images in
            ``[-1, 1]`` (H, W multiples of 8, at least ``min_size``) that returns a list of
            ``(B, 2, H, W)`` flows with torchvision's meaning (on ``image1``'s grid, pointing into
            ``image2``, x then y, pixels); the last entry is used. It is frozen like the default one.

    Raises:
        ValueError: if ``model`` is unknown, ``weights`` is not a path, ``"default"`` or ``None``,
            or a state dict does not match the network.
        TypeError: if ``module`` is not an ``nn.Module`` or an int argument is not an int.
        FileNotFoundError: if a weights file (the given path, or the official file for
            ``"default"``) is missing.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     teacher = RAFTTeacher("small", weights=None, num_flow_updates=1)
        >>> teacher(torch.rand(1, 3, 20, 30), torch.rand(1, 3, 20, 30)).shape
        torch.Size([1, 2, 20, 30])
    """

    def __init__(
        self,
        model: Literal["small", "large"] = "small",
        weights: str | os.PathLike[str] | Literal["default"] | None = "default",
        *,
        num_flow_updates: int = 12,
        min_size: int = 128,
        module: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if model not in _MODELS:
            raise ValueError(f"model: expected 'small' or 'large', got {model!r}")
        self.num_flow_updates = check_positive_int(num_flow_updates, "num_flow_updates")
        self.min_size = check_positive_int(min_size, "min_size")
        if weights is not None and not isinstance(weights, (str, os.PathLike)):
            raise ValueError(
                f"weights: expected a file path, 'default' or None, got {type(weights).__name__} {weights!r}"
            )
        if module is not None:
            if not isinstance(module, nn.Module):
                raise TypeError(f"module: expected an nn.Module or None, got {type(module).__name__}")
            net = module
            self.model = type(module).__name__
            if weights is not None and weights != "default":
                _load_into(net, Path(weights))
        else:
            from torchvision.models.optical_flow import raft_large, raft_small

            builder = raft_small if model == "small" else raft_large
            net = builder(weights=None, progress=False)
            self.model = model
            if weights is None:
                warnings.warn(
                    f"RAFTTeacher: weights=None gives a randomly initialised raft_{model}; its flows are "
                    "meaningless (use weights='default' or a checkpoint path for a real teacher)",
                    UserWarning,
                    stacklevel=2,
                )
            elif weights == "default":
                path = raft_default_weights_path(model)
                if not path.is_file():
                    raise FileNotFoundError(
                        f"weights='default': torchvision's DEFAULT raft_{model} weights were not found and are "
                        f"never downloaded. Place the official file {path.name!r} in the directory "
                        f"{str(path.parent)!r} (set TORCH_HOME to change it), or pass weights=<path to a .pth "
                        "or .safetensors state dict>."
                    )
                _load_into(net, path)
            else:
                _load_into(net, Path(weights))
        self.raft = net
        self.raft.requires_grad_(False)
        self.raft.eval()
        super().train(False)

    def train(self, mode: bool = True) -> RAFTTeacher:
        """Keep the teacher in eval mode whatever ``mode`` is (it is frozen).

        Args:
            mode: ignored.

        Returns:
            ``self``, in eval mode.
        """
        return super().train(False)

    def forward(self, frame_a: Tensor, frame_b: Tensor) -> Tensor:
        """Estimate ``flow_{a->b}`` with the library's meaning.

        Args:
            frame_a: ``(B, 3, H, W)`` source frame in ``[0, 1]``.
            frame_b: ``(B, 3, H, W)`` target frame in ``[0, 1]``; the flow lives on its grid.

        Returns:
            ``(B, 2, H, W)`` flow (x, y; pixels) with ``backward_warp(frame_a, flow) ~= frame_b``,
            in the dtype of the frames, detached (``requires_grad=False``).

        Raises:
            TypeError: if a frame is not a floating tensor or the two dtypes differ.
            ValueError: if a frame is not ``(B, 3, H, W)``, or the shapes or devices differ.
        """
        check_shape(frame_a, ["B", 3, "H", "W"], "frame_a")
        check_shape(frame_b, ["B", 3, "H", "W"], "frame_b")
        if frame_a.shape != frame_b.shape:
            raise ValueError(
                f"frame_a and frame_b must have the same shape: got {tuple(frame_a.shape)} and {tuple(frame_b.shape)}"
            )
        if frame_a.dtype != frame_b.dtype:
            raise TypeError(f"frame_a and frame_b must have the same dtype: got {frame_a.dtype} and {frame_b.dtype}")
        if frame_a.device != frame_b.device:
            raise ValueError(
                f"frame_a and frame_b must be on the same device: got {frame_a.device} and {frame_b.device}"
            )
        p = next(self.raft.parameters(), None)
        run_dtype = p.dtype if p is not None else frame_a.dtype
        with torch.no_grad():
            # RAFT(image1=frame_b, image2=frame_a) is flow_{a->b}: see the module docstring (A7).
            pair = torch.cat((frame_b, frame_a), dim=0).to(run_dtype) * 2.0 - 1.0
            pair, pad = pad_to_multiple(pair, 8, mode="replicate", min_size=self.min_size)
            image1, image2 = pair.chunk(2, dim=0)
            flows = self.raft(image1, image2, num_flow_updates=self.num_flow_updates)
            flow = flows[-1] if isinstance(flows, (list, tuple)) else flows
            flow = crop_padding(flow, pad).to(frame_a.dtype).contiguous()
        return flow

    def extra_repr(self) -> str:
        """Summary shown by ``print(teacher)``.

        Returns:
            The model name, update count and minimum size.
        """
        return f"model={self.model!r}, num_flow_updates={self.num_flow_updates}, min_size={self.min_size}"
