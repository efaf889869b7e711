"""Input validation helpers shared by every public function.

Each helper raises a :class:`TypeError` or :class:`ValueError` whose message names the argument,
what was expected and what was received, so that a wrong input fails at the API boundary rather
than deep inside a convolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "arg_nonneg_int",
    "check_tensor",
    "check_image",
    "check_shape",
    "check_same_shape",
    "check_multiple",
    "check_positive_int",
    "check_int",
    "check_bool",
    "check_choice",
    "check_float_range",
    "check_positive_float",
    "check_time",
    "check_model_inputs",
    "INPUT_RANGE",
]

#: Values a model input may take: images are floats in [0, 1]; resampling overshoot (bicubic ringing,
#: noise) is tolerated up to 0.5 outside, while 0-255 data, [-1, 1] data and mean/std-normalised
#: tensors are rejected.
INPUT_RANGE = (-0.5, 1.5)


def check_tensor(x: object, name: str, *, floating: bool = True) -> Tensor:
    """Check that ``x`` is a tensor (of floating dtype when ``floating``) and return it.

    Args:
        x: the object to check.
        name: the argument name used in the error message.
        floating: require a floating-point dtype.

    Returns:
        ``x`` unchanged.

    Raises:
        TypeError: if ``x`` is not a tensor or has a non-floating dtype.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def check_image(x: object, name: str, *, batched: bool | None = None) -> Tensor:
    """Check that ``x`` is a floating image tensor ``(C, H, W)`` or ``(B, C, H, W)`` and return it.

    Args:
        x: the object to check.
        name: the argument name used in the error message.
        batched: ``None`` accepts both forms, ``False`` only one image ``(C, H, W)``, ``True`` only a batch.

    Returns:
        ``x`` unchanged.

    Raises:
        TypeError: if ``x`` is not a floating tensor.
        ValueError: if it has another number of dimensions.

    Example:
        >>> check_image(torch.zeros(2, 2), "pred")
        Traceback (most recent call last):
        ...
        ValueError: pred: expected shape (C, H, W) or (B, C, H, W), got shape (2, 2)
    """
    t = check_tensor(x, name)
    allowed = {None: ((3, 4), "shape (C, H, W) or (B, C, H, W)"), False: ((3,), "one image of shape (C, H, W)"),
               True: ((4,), "a batch of shape (B, C, H, W)")}[batched]
    if t.ndim not in allowed[0]:
        raise ValueError(f"{name}: expected {allowed[1]}, got shape {tuple(t.shape)}")
    return t


def check_shape(x: object, spec: Sequence[str | int], name: str, *, floating: bool = True) -> Tensor:
    """Check a tensor against a shape spec such as ``["B", 2, "H", "W"]``.

    Strings are named free dimensions (any size); integers must match exactly.

    Args:
        x: the tensor to check.
        spec: one entry per dimension, an ``int`` (exact size) or a ``str`` (free).
        name: the argument name used in the error message.
        floating: require a floating-point dtype.

    Returns:
        ``x`` unchanged.

    Raises:
        TypeError: if ``x`` is not a (floating) tensor.
        ValueError: if the number of dimensions or a fixed size differs.
    """
    t = check_tensor(x, name, floating=floating)
    expected = "(" + ", ".join(str(s) for s in spec) + ")"
    if t.ndim != len(spec):
        raise ValueError(
            f"{name}: expected a {len(spec)}-D tensor of shape {expected}, got shape {tuple(t.shape)}"
        )
    for dim, (want, got) in enumerate(zip(spec, t.shape)):
        if isinstance(want, int) and want != got:
            raise ValueError(
                f"{name}: expected shape {expected} (size {want} at dim {dim}), got shape {tuple(t.shape)}"
            )
    return t


def check_same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str, *, dims: slice | None = None) -> None:
    """Check that two tensors have the same shape (or the same sizes over ``dims``).

    Args:
        a: first tensor.
        b: second tensor.
        name_a: name of ``a`` in the error message.
        name_b: name of ``b`` in the error message.
        dims: optional slice of dimensions to compare (e.g. ``slice(-2, None)`` for H, W).

    Raises:
        ValueError: if the shapes differ.
    """
    sa = tuple(a.shape) if dims is None else tuple(a.shape[dims])
    sb = tuple(b.shape) if dims is None else tuple(b.shape[dims])
    if sa != sb:
        what = "shape" if dims is None else "sizes"
        raise ValueError(
            f"{name_a} and {name_b} must have matching {what}: got {name_a} {tuple(a.shape)} "
            f"and {name_b} {tuple(b.shape)}"
        )


def check_multiple(x: Tensor, multiple: int, name: str) -> None:
    """Check that the spatial size (last two dims) of ``x`` is divisible by ``multiple``.

    Args:
        x: tensor ``(..., H, W)``.
        multiple: the required divisor.
        name: the argument name used in the error message.

    Raises:
        ValueError: if H or W is not a multiple of ``multiple``.
    """
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(
            f"{name}: height and width must be multiples of {multiple}, got {h}x{w} "
            f"(pad with stvsr_blocks.ops.pad_to_multiple and crop back)"
        )


def check_positive_int(value: object, name: str) -> int:
    """Check that ``value`` is a positive ``int`` (bools rejected) and return it.

    Args:
        value: the value to check.
        name: the argument name used in the error message.

    Returns:
        ``value`` as an ``int``.

    Raises:
        TypeError: if ``value`` is not an int.
        ValueError: if ``value`` < 1.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return value


def check_int(value: object, name: str, *, low: int = 0) -> int:
    """Check that ``value`` is an ``int`` (bools rejected) of at least ``low`` and return it.

    Args:
        value: the value to check.
        name: the argument name used in the error message.
        low: inclusive lower bound.

    Returns:
        ``value``.

    Raises:
        TypeError: if ``value`` is not an int.
        ValueError: if ``value`` < ``low``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int >= {low}, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}")
    return value


def check_bool(value: object, name: str) -> bool:
    """Check that ``value`` is a ``bool`` (not merely truthy: ``0``, ``1`` and ``"yes"`` are rejected) and return it.

    Args:
        value: the value to check.
        name: the argument name used in the error message.

    Returns:
        ``value``.

    Raises:
        TypeError: if ``value`` is not a bool.
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")
    return value


def check_choice(value: object, name: str, choices: Sequence[object]) -> object:
    """Check that ``value`` is one of ``choices`` (compared by type and value) and return it.

    Args:
        value: the value to check.
        name: the argument name used in the error message.
        choices: the allowed values, listed in the message in this order.

    Returns:
        ``value``.

    Raises:
        ValueError: if ``value`` is none of ``choices``.

    Example:
        >>> check_choice("Y", "channel", ("y", "rgb"))
        Traceback (most recent call last):
        ...
        ValueError: channel: expected 'y' or 'rgb', got 'Y'
    """
    if not any(type(value) is type(c) and value == c for c in choices):
        names = [repr(c) for c in choices]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ValueError(f"{name}: expected {listed}, got {value!r}")
    return value


def check_float_range(value: object, name: str, low: float, high: float) -> float:
    """Check that ``value`` is a real number in ``[low, high]`` and return it as ``float``.

    Args:
        value: the value to check.
        name: the argument name used in the error message.
        low: inclusive lower bound.
        high: inclusive upper bound.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: if ``value`` is not a real number.
        ValueError: if it lies outside ``[low, high]``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, Tensor) and value.numel() == 1:
            value = float(value)
        else:
            raise TypeError(f"{name}: expected a float in [{low}, {high}], got {type(value).__name__}")
    value = float(value)
    if not (low <= value <= high):
        raise ValueError(f"{name}: expected a value in [{low}, {high}], got {value}")
    return value


def check_positive_float(value: object, name: str) -> float:
    """Check that ``value`` is a finite real number > 0 (bools rejected) and return it as ``float``.

    Args:
        value: the value to check.
        name: the argument name used in the error message.

    Returns:
        ``float(value)``.

    Raises:
        TypeError: if ``value`` is not a real number.
        ValueError: if it is not finite or not positive.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a positive real number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a positive finite number, got {value}")
    return float(value)


def check_time(value: object, name: str, batch: int, like: Tensor | None = None) -> float | Tensor:
    """Check an interpolation time: a number in ``[0, 1]`` or one per batch item.

    Args:
        value: a real number, a one-element tensor, or a ``(B,)`` tensor of times.
        name: the argument name used in the error message.
        batch: the batch size ``B``.
        like: a tensor whose dtype/device a per-item time is cast to.

    Returns:
        A ``float``, or a ``(B, 1, 1, 1)`` tensor for per-item times.

    Raises:
        TypeError: if ``value`` is neither a real number nor a tensor.
        ValueError: if a time lies outside ``[0, 1]`` or a tensor has the wrong shape.
    """
    if isinstance(value, Tensor) and value.numel() != 1:
        if value.ndim != 1 or value.shape[0] != batch:
            raise ValueError(f"{name}: expected a number or a tensor of shape ({batch},) (one time per batch item), "
                             f"got shape {tuple(value.shape)}")
        if value.is_floating_point() and (value.min() < 0 or value.max() > 1 or not bool(value.isfinite().all())):
            raise ValueError(f"{name}: expected times in [0, 1], got [{float(value.min())}, {float(value.max())}]")
        if not value.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point tensor, got dtype {value.dtype}")
        out = value.reshape(batch, 1, 1, 1)
        return out.to(dtype=like.dtype, device=like.device) if like is not None else out
    return check_float_range(value, name, 0.0, 1.0)


def _model_dtype_device(module: nn.Module) -> tuple[torch.dtype, torch.device] | None:
    for tensor in module.parameters():
        if tensor.is_floating_point():
            return tensor.dtype, tensor.device
    return None


def check_model_inputs(module: nn.Module, inputs: Sequence[tuple[str, Tensor]]) -> None:
    """Model-boundary checks of image inputs that already passed :func:`check_shape`.

    In order: a batch of at least one item and a non-empty image; the module's dtype and device
    (taken from its first floating parameter; parameter-free modules accept any floating dtype, and
    under an enabled :func:`torch.autocast` any floating dtype is accepted because autocast casts
    per operation); finite values; values in :data:`INPUT_RANGE` (images in ``[0, 1]``). The value
    checks are one :func:`torch.aminmax` reduction per input and one host synchronisation in all.

    Args:
        module: the model the inputs are for.
        inputs: ``(name, tensor)`` pairs, each ``(B, C, H, W)`` (or ``(B, N, C, H, W)``).

    Raises:
        TypeError: if a dtype differs from the module's (outside autocast).
        ValueError: on an empty batch or image, a device other than the module's, NaN/Inf values,
            or values outside :data:`INPUT_RANGE`.
    """
    for name, x in inputs:
        if x.shape[0] == 0:
            raise ValueError(f"{name}: expected a batch of at least 1 item, got batch size 0 (shape {tuple(x.shape)})")
        if x.numel() == 0:
            raise ValueError(f"{name}: expected a non-empty image, got shape {tuple(x.shape)}")
    found = _model_dtype_device(module)
    if found is not None:
        dtype, device = found
        for name, x in inputs:
            if x.device != device:
                raise ValueError(f"{name}: expected a tensor on the model's device {device}, got {x.device} "
                                 f"(move it with {name}.to({str(device)!r}) or the model with model.to({name}.device))")
            if x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
                raise TypeError(f"{name}: expected dtype {dtype} (the model's), got {x.dtype}; convert the input with "
                                f"{name}.to({dtype}), or the model with model.to({x.dtype}), or run under torch.autocast")
    stats = torch.stack([torch.stack(torch.aminmax(x.detach())).float() for _, x in inputs]).tolist()
    low, high = INPUT_RANGE
    for (name, x), (lo, hi) in zip(inputs, stats):
        if lo >= low and hi <= high:  # the common case: NaN fails both comparisons
            continue
        if not bool(torch.isfinite(x).all()):
            n_nan, n_inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
            raise ValueError(f"{name}: expected finite values, got {n_nan} NaN and {n_inf} Inf "
                             f"(of {x.numel()} values)")
        if 1.5 < hi <= 255.0 and lo >= low:
            hint = " (0-255 data? divide by 255)"
        elif lo >= -1.0 and hi <= 1.0:
            hint = " ([-1, 1] data? map it with (x + 1) / 2)"
        else:
            hint = ""
        raise ValueError(f"{name}: expected image values in [0, 1] ({low} to {high} tolerated), got values in "
                         f"[{lo:.4g}, {hi:.4g}]{hint}")


def check_pair_call(model: object, lr0: object, lr1: object, t: object) -> float | Tensor:
    """The checks every space-time model runs on ``forward(lr0, lr1, t=...)``: shapes, inputs, time.

    Args:
        model: the model (its ``t`` is the default time; ``check_inputs`` switches :func:`check_model_inputs`).
        lr0: ``(B, 3, h, w)`` first LR frame.
        lr1: ``(B, 3, h, w)`` second LR frame.
        t: ``None`` (the model's ``t``), a number or a ``(B,)`` tensor.

    Returns:
        The time: a ``float``, or the ``(B,)`` tensor.

    Raises:
        TypeError: if an input is not a floating tensor or ``t`` not a time.
        ValueError: on wrong or differing shapes, bad input values (see :func:`check_model_inputs`) or ``t``
            outside ``[0, 1]``.
    """
    check_shape(lr0, ["B", 3, "h", "w"], "lr0")
    check_shape(lr1, ["B", 3, "h", "w"], "lr1")
    if lr0.shape != lr1.shape:  # type: ignore[union-attr]
        raise ValueError(f"lr0 and lr1 must have the same shape, got {tuple(lr0.shape)} and {tuple(lr1.shape)}")  # type: ignore[union-attr]
    if getattr(model, "check_inputs", True):
        check_model_inputs(model, (("lr0", lr0), ("lr1", lr1)))  # type: ignore[arg-type]
    t = getattr(model, "t", 0.5) if t is None else t
    check_time(t, "t", lr0.shape[0])  # type: ignore[union-attr]
    if isinstance(t, Tensor) and t.numel() == 1:
        t = float(t)
    return t  # type: ignore[return-value]


def check_interpolation_options(t: object, interpolation: object, quadratic_coefficients: object) -> float:
    """The mid-flow options shared by the space-time models: a default time strictly inside ``(0, 1)``, the
    interpolation kind and the quadratic coefficients (``"paper"`` only with ``"quadratic"``).

    Args:
        t: default time of the synthesised frame.
        interpolation: ``"quadratic"`` or ``"linear"``.
        quadratic_coefficients: ``"slomo"`` or ``"paper"``.

    Returns:
        ``t`` as a float.

    Raises:
        TypeError: if ``t`` is not a number.
        ValueError: on a value out of range or an unknown option.
    """
    t = check_float_range(t, "t", 0.0, 1.0)
    if not 0.0 < t < 1.0:
        raise ValueError(f"t: expected a value strictly inside (0, 1), got {t}")
    if interpolation not in ("quadratic", "linear"):
        raise ValueError(f"interpolation: expected 'quadratic' or 'linear', got {interpolation!r}")
    if quadratic_coefficients not in ("slomo", "paper"):
        raise ValueError(f"quadratic_coefficients: expected 'slomo' or 'paper', got {quadratic_coefficients!r}")
    if quadratic_coefficients == "paper" and interpolation != "quadratic":
        raise ValueError("quadratic_coefficients: 'paper' applies to interpolation='quadratic' only, "
                         f"got interpolation={interpolation!r}")
    return t


def arg_nonneg_int(text: str) -> int:
    """``argparse`` type of the command-line options that take an integer ``>= 0`` (``--tile``, ``--crop`` …).

    Args:
        text: the option's value.

    Returns:
        The integer.

    Raises:
        argparse.ArgumentTypeError: if ``text`` is not an integer ``>= 0``.

    Example:
        >>> arg_nonneg_int("16")
        16
    """
    import argparse

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an int >= 0, got {text}")
    return v

