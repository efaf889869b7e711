"""Public conformance checkers for user blocks, and test helpers shared by the test-suite.

Run the checker matching your block's role before plugging it into an
:class:`~stvsr_blocks.loop.InteractionLoop`::

    from stvsr_blocks.testing import check_vsr_net
    check_vsr_net(MyVSR())          # raises ConformanceError with a precise message on failure

Each checker builds random inputs of the documented shapes, runs a forward (and, if the block has
parameters, a backward) pass, and verifies types, shapes, finiteness and that gradients reach the
parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from stvsr_blocks.interfaces import (
    FlowEstimator,
    FlowPyramid,
    FlowRefiner,
    MidFlows,
    VFIInput,
    VFINet,
    VSRInput,
    VSRNet,
    VSROutput,
)

__all__ = [
    "ConformanceError",
    "check_flow_estimator",
    "check_flow_refiner",
    "check_vsr_net",
    "check_vfi_net",
    "check_all_parameters_get_gradients",
    "assert_cpu_gpu_parity",
    "make_vsr_input",
    "make_vfi_input",
]


class ConformanceError(AssertionError):
    """A block does not satisfy its interface contract."""


def _fail(block: nn.Module, msg: str) -> None:
    raise ConformanceError(f"{type(block).__name__}: {msg}")


def _check_tensor(block: nn.Module, x: Any, name: str, shape: Sequence[int]) -> None:
    if not isinstance(x, Tensor):
        _fail(block, f"{name} must be a Tensor, got {type(x).__name__}")
    if tuple(x.shape) != tuple(shape):
        _fail(block, f"{name} must have shape {tuple(shape)}, got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        _fail(block, f"{name} contains NaN or Inf")


def check_all_parameters_get_gradients(module: nn.Module, loss: Tensor) -> None:
    """Backpropagate ``loss`` and check that every trainable parameter received a finite gradient.

    Args:
        module: the module whose parameters are checked (gradients are zeroed first).
        loss: a scalar depending on the module's output.

    Raises:
        ConformanceError: naming the parameters with no (or non-finite) gradient.
    """
    module.zero_grad(set_to_none=True)
    loss.backward()
    missing = [n for n, p in module.named_parameters() if p.requires_grad and p.grad is None]
    bad = [n for n, p in module.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    if missing:
        _fail(module, f"parameters without gradient: {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    if bad:
        _fail(module, f"parameters with non-finite gradient: {bad[:10]}")


def _has_params(m: nn.Module) -> bool:
    return any(p.requires_grad for p in m.parameters())


def make_vsr_input(
    batch: int = 2, lr_size: tuple[int, int] = (16, 16), scale: int = 4, *, seed: int = 0,
    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
) -> VSRInput:
    """Random :class:`VSRInput` of the documented shapes (values in [0, 1], flows of a few pixels).

    Args:
        batch: batch size.
        lr_size: LR ``(h, w)``.
        scale: spatial scale.
        seed: RNG seed.
        device: device.
        dtype: dtype.

    Returns:
        The input dataclass.
    """
    g = torch.Generator().manual_seed(seed)
    h, w = lr_size
    kw: dict[str, Any] = {"generator": g}

    def img(hh: int, ww: int) -> Tensor:
        return torch.rand(batch, 3, hh, ww, **kw).to(device, dtype)

    f01 = (torch.randn(batch, 2, h, w, **kw) * 2).to(device, dtype)
    f10 = (torch.randn(batch, 2, h, w, **kw) * 2).to(device, dtype)
    flows = FlowPyramid(f01, f10, ((f01, f10),))
    return VSRInput(
        lr0=img(h, w), lr1=img(h, w), sr_prev0=img(h * scale, w * scale), sr_prev1=img(h * scale, w * scale),
        lr_warped0=img(h, w), lr_warped1=img(h, w), feedback0=img(h * scale, w * scale),
        feedback1=img(h * scale, w * scale), flows=flows, iteration=1,
    )


def make_vfi_input(
    batch: int = 2, hr_size: tuple[int, int] = (64, 64), scale: int = 4, feature_channels: int = 0, *,
    seed: int = 0, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
) -> VFIInput:
    """Random :class:`VFIInput` of the documented shapes.

    Args:
        batch: batch size.
        hr_size: HR ``(H, W)``.
        scale: ratio between HR and the feature's resolution.
        feature_channels: feature channels (0: ``feature=None``).
        seed: RNG seed.
        device: device.
        dtype: dtype.

    Returns:
        The input dataclass.
    """
    g = torch.Generator().manual_seed(seed)
    hh, ww = hr_size

    def r(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=g).to(device, dtype)

    feat = r(batch, feature_channels, hh // scale, ww // scale) if feature_channels else None
    flows = MidFlows((r(batch, 2, hh, ww) - 0.5) * 4, (r(batch, 2, hh, ww) - 0.5) * 4)
    return VFIInput(r(batch, 3, hh, ww), r(batch, 3, hh, ww), r(batch, 3, hh, ww), r(batch, 3, hh, ww),
                    flows, feat, 0.5)


def check_flow_estimator(block: FlowEstimator, *, lr_size: tuple[int, int] | None = None, batch: int = 2) -> FlowPyramid:
    """Check a :class:`~stvsr_blocks.interfaces.FlowEstimator`.

    Args:
        block: the estimator.
        lr_size: input size (default: 4 × ``size_multiple`` each side, at least 16).
        batch: batch size.

    Returns:
        The pyramid produced on the random input.

    Raises:
        ConformanceError: if the contract is violated.
    """
    if not isinstance(block, FlowEstimator):
        _fail(block, "must subclass stvsr_blocks.interfaces.FlowEstimator")
    m = int(getattr(block, "size_multiple", 1))
    h, w = lr_size or (max(16, 4 * m), max(16, 4 * m))
    g = torch.Generator().manual_seed(0)
    p = next(block.parameters(), None)
    kw = {"device": p.device, "dtype": p.dtype} if p is not None else {}
    f0 = torch.rand(batch, 3, h, w, generator=g).to(**kw)
    f1 = torch.rand(batch, 3, h, w, generator=g).to(**kw)
    out = block(f0, f1)
    if not isinstance(out, FlowPyramid):
        _fail(block, f"forward must return FlowPyramid, got {type(out).__name__}")
    _check_tensor(block, out.flow_0to1, "flow_0to1", (batch, 2, h, w))
    _check_tensor(block, out.flow_1to0, "flow_1to0", (batch, 2, h, w))
    if not out.levels:
        _fail(block, "levels must hold at least the finest level")
    last = out.levels[-1]
    if last[0].shape != out.flow_0to1.shape or last[1].shape != out.flow_1to0.shape:
        _fail(block, "the last entry of levels must be the finest (flow_0to1, flow_1to0)")
    prev = 0
    for i, (a, b) in enumerate(out.levels):
        if a.shape[:2] != (batch, 2) or a.shape != b.shape:
            _fail(block, f"level {i} must hold two (B, 2, h_l, w_l) flows, got {tuple(a.shape)}, {tuple(b.shape)}")
        if a.shape[-1] < prev:
            _fail(block, "levels must be ordered coarse to fine")
        prev = a.shape[-1]
    if _has_params(block):
        loss = sum(x.float().mean() + y.float().mean() for x, y in out.levels)
        check_all_parameters_get_gradients(block, loss)
    return out


def check_flow_refiner(block: FlowRefiner, *, lr_size: tuple[int, int] | None = None, batch: int = 2) -> MidFlows:
    """Check a :class:`~stvsr_blocks.interfaces.FlowRefiner`.

    Args:
        block: the refiner.
        lr_size: LR flow size (default 16×16 rounded up to ``size_multiple``).
        batch: batch size.

    Returns:
        The HR mid flows produced on the random input.

    Raises:
        ConformanceError: if the contract is violated.
    """
    if not isinstance(block, FlowRefiner):
        _fail(block, "must subclass stvsr_blocks.interfaces.FlowRefiner")
    s = int(block.scale)
    m = int(getattr(block, "size_multiple", 1))
    h, w = lr_size or (max(16, 4 * m), max(16, 4 * m))
    g = torch.Generator().manual_seed(0)
    flows = MidFlows(torch.randn(batch, 2, h, w, generator=g), torch.randn(batch, 2, h, w, generator=g))
    g0 = torch.rand(batch, 3, s * h, s * w, generator=g)
    g1 = torch.rand(batch, 3, s * h, s * w, generator=g)
    out = block(flows, g0, g1)
    if not isinstance(out, MidFlows):
        _fail(block, f"forward must return MidFlows, got {type(out).__name__}")
    _check_tensor(block, out.flow_0tot, "flow_0tot", (batch, 2, s * h, s * w))
    _check_tensor(block, out.flow_1tot, "flow_1tot", (batch, 2, s * h, s * w))
    if _has_params(block):
        check_all_parameters_get_gradients(block, out.flow_0tot.mean() + out.flow_1tot.mean())
    return out


def check_vsr_net(block: VSRNet, *, lr_size: tuple[int, int] | None = None, batch: int = 2) -> VSROutput:
    """Check a :class:`~stvsr_blocks.interfaces.VSRNet`.

    Args:
        block: the VSR net.
        lr_size: LR size (default 16×16 rounded up to ``size_multiple``).
        batch: batch size.

    Returns:
        The output on the random input.

    Raises:
        ConformanceError: if the contract is violated.
    """
    if not isinstance(block, VSRNet):
        _fail(block, "must subclass stvsr_blocks.interfaces.VSRNet")
    s = int(block.scale)
    m = int(getattr(block, "size_multiple", 1))
    h, w = lr_size or (max(16, 4 * m), max(16, 4 * m))
    out = block(make_vsr_input(batch, (h, w), s))
    if not isinstance(out, VSROutput):
        _fail(block, f"forward must return VSROutput, got {type(out).__name__}")
    _check_tensor(block, out.sr0, "sr0", (batch, 3, s * h, s * w))
    _check_tensor(block, out.sr1, "sr1", (batch, 3, s * h, s * w))
    fc = int(block.feature_channels)
    if fc:
        if out.feature is None:
            _fail(block, f"feature_channels={fc} but feature is None")
        _check_tensor(block, out.feature, "feature", (batch, fc, h, w))
    elif out.feature is not None:
        _fail(block, "feature_channels is 0 but a feature was returned")
    if _has_params(block):
        loss = out.sr0.mean() + out.sr1.mean() + (out.feature.mean() if out.feature is not None else 0.0)
        check_all_parameters_get_gradients(block, loss)
    return out


def check_vfi_net(block: VFINet, *, hr_size: tuple[int, int] | None = None, batch: int = 2) -> Tensor:
    """Check a :class:`~stvsr_blocks.interfaces.VFINet` (with its feature, and with ``feature=None``).

    Args:
        block: the VFI net.
        hr_size: HR size (default 64×64 rounded up to ``size_multiple`` and ``scale``).
        batch: batch size.

    Returns:
        The frame produced on the random input with a feature.

    Raises:
        ConformanceError: if the contract is violated.
    """
    if not isinstance(block, VFINet):
        _fail(block, "must subclass stvsr_blocks.interfaces.VFINet")
    s = int(block.scale)
    m = max(int(getattr(block, "size_multiple", 1)), s)
    side = max(64, 4 * m) // m * m
    hh, ww = hr_size or (side, side)
    fc = int(block.feature_channels)
    inp = make_vfi_input(batch, (hh, ww), s, fc)
    out = block(inp)
    _check_tensor(block, out, "output", (batch, 3, hh, ww))
    if fc:
        out_none = block(make_vfi_input(batch, (hh, ww), s, 0))
        _check_tensor(block, out_none, "output with feature=None", (batch, 3, hh, ww))
    if _has_params(block):
        check_all_parameters_get_gradients(block, out.mean())
    return out


def _to(obj: Any, device: torch.device | str) -> Any:
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    if hasattr(obj, "__dataclass_fields__"):
        return type(obj)(**{k: _to(getattr(obj, k), device) for k in obj.__dataclass_fields__})
    return obj


def _flatten(obj: Any) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _flatten(o)]
    if isinstance(obj, dict):
        return [t for k in sorted(obj) for t in _flatten(obj[k])]
    if hasattr(obj, "__dataclass_fields__"):
        return [t for k in obj.__dataclass_fields__ for t in _flatten(getattr(obj, k))]
    return []


def assert_cpu_gpu_parity(
    factory: Callable[[], nn.Module], *inputs: Any, atol: float = 1e-4, rtol: float = 1e-4, device: str = "cuda",
) -> None:
    """Run the same module (same weights) on CPU and on ``device`` and compare every output tensor.

    TF32 is disabled for the comparison. Skips (via ``pytest.skip``) when the device is absent.

    Args:
        factory: builds the module (called once; its state is copied to the device).
        *inputs: positional inputs (tensors, dataclasses, tuples) on the CPU.
        atol: absolute tolerance.
        rtol: relative tolerance.
        device: the accelerator device.

    Raises:
        AssertionError: if any output differs beyond tolerance.
    """
    import pytest

    if device.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    torch.manual_seed(0)
    cpu = factory().eval()
    dev = factory().eval()
    dev.load_state_dict(cpu.state_dict())
    dev = dev.to(device)
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.no_grad():
            a = _flatten(cpu(*inputs))
            b = _flatten(dev(*_to(inputs, device)))
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    assert len(a) == len(b), f"output structure differs: {len(a)} vs {len(b)} tensors"
    for i, (x, y) in enumerate(zip(a, b)):
        torch.testing.assert_close(y.cpu(), x, atol=atol, rtol=rtol, msg=lambda m, i=i: f"output {i}: {m}")
