"""Shared helpers of ``benchmarks/run.py``: machine description, timing, peak memory, FLOP counting.

Everything here is device-agnostic: ``device`` is a :class:`torch.device` (``cpu`` or ``cuda``).
On CUDA, timings synchronise before starting and before stopping the clock, and peak memory is read
from ``torch.cuda.max_memory_allocated``. On CPU, peak memory is the growth of the process's peak
resident set (``VmHWM``, reset through ``/proc/self/clear_refs``; ``ru_maxrss`` as a fallback).
"""

from __future__ import annotations

import datetime as _dt
import gc
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "machine_info",
    "load_average",
    "wait_for_quiet",
    "sync",
    "PeakMemory",
    "time_fn",
    "measure",
    "FlopCounter",
    "conv_flops",
    "tensor_mb",
    "malloc_env",
]

MB = 1024.0 * 1024.0


# --------------------------------------------------------------------------------------------
# machine
# --------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                wanted = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni")
                return [f for f in wanted if f in have]
    except OSError:
        pass
    return []


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (``[-1, -1, -1]`` where unavailable).

    Returns:
        Three floats.
    """
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return [-1.0, -1.0, -1.0]


def machine_info(device: torch.device) -> dict[str, Any]:
    """Describe the machine and the software stack.

    Args:
        device: the benchmark device.

    Returns:
        A JSON-able dict: CPU model and flags, logical cores, RAM, torch/python versions, threads,
        load average, date, and the GPU name on CUDA.
    """
    try:
        mem_kb = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal"))
        ram_gib = round(mem_kb / 1024 / 1024, 1)
    except (OSError, StopIteration):
        ram_gib = None
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "logical_cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "device": str(device),
        "load_avg": load_average(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def wait_for_quiet(threshold: float, max_wait_s: float, poll_s: float = 30.0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Poll the 1-minute load average until it drops below ``threshold`` or ``max_wait_s`` passes.

    Args:
        threshold: 1-minute load average regarded as quiet.
        max_wait_s: give up (and carry on) after this many seconds.
        poll_s: seconds between polls.
        log: progress printer.

    Returns:
        ``{"quiet": bool, "waited_s": float, "load_avg": [...]}``.
    """
    t0 = time.monotonic()
    while True:
        load = load_average()
        waited = time.monotonic() - t0
        if load[0] < threshold or waited >= max_wait_s:
            return {"quiet": load[0] < threshold, "waited_s": round(waited, 1), "load_avg": load,
                    "threshold": threshold}
        log(f"  load {load} >= {threshold}: waiting ({waited:.0f}/{max_wait_s:.0f} s)")
        time.sleep(min(poll_s, max(1.0, max_wait_s - waited)))


def malloc_env() -> dict[str, str]:
    """Environment for CPU measurement subprocesses: glibc returns large blocks to the OS at once.

    A fixed ``M_MMAP_THRESHOLD`` disables glibc's dynamic threshold, so every allocation above
    128 KiB is an ``mmap`` that is unmapped on free. Freed tensors then leave the resident set,
    and the peak of a repeat is not hidden by memory retained from the warm-up.

    Returns:
        The variables to add to the environment.
    """
    return {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}


# --------------------------------------------------------------------------------------------
# timing and memory
# --------------------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    """Wait for queued device work (no-op on CPU).

    Args:
        device: the device.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """Peak memory growth over a region of code.

    CPU: ``VmHWM`` (peak RSS) after resetting it with ``/proc/self/clear_refs``, minus ``VmRSS`` at
    :meth:`start`; where the reset is not allowed, the growth of ``ru_maxrss`` (a lower bound).
    CUDA: ``torch.cuda.max_memory_allocated`` minus the allocated bytes at :meth:`start`.

    Args:
        device: the device whose memory is measured.

    Example:
        >>> m = PeakMemory(torch.device("cpu"))
        >>> m.start()
        >>> x = torch.ones(1 << 20)
        >>> r = m.stop()
        >>> r["peak_extra_mb"] >= 0
        True
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._base = 0.0
        self._method = ""

    def start(self) -> None:
        """Collect garbage, reset the peak counter and record the baseline."""
        gc.collect()
        if self.device.type == "cuda":
            sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device) / MB
            self._method = "cuda max_memory_allocated - memory_allocated at start"
        elif _reset_hwm() and _status_kb("VmRSS") is not None:
            self._base = _status_kb("VmRSS") / 1024  # type: ignore[operator]
            self._method = "VmHWM (reset via clear_refs) - VmRSS at start"
        else:
            self._base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            self._method = "ru_maxrss growth (lower bound)"

    def stop(self) -> dict[str, Any]:
        """Read the peak.

        Returns:
            ``peak_extra_mb`` (growth over the baseline), ``peak_total_mb`` (process peak RSS or
            peak allocated device memory), ``baseline_mb`` and ``memory_method``.
        """
        if self.device.type == "cuda":
            sync(self.device)
            total = torch.cuda.max_memory_allocated(self.device) / MB
        elif self._method.startswith("VmHWM"):
            total = (_status_kb("VmHWM") or 0) / 1024
        else:
            total = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {
            "peak_extra_mb": round(max(0.0, total - self._base), 1),
            "peak_total_mb": round(total, 1),
            "baseline_mb": round(self._base, 1),
            "memory_method": self._method,
        }


def time_fn(fn: Callable[[], Any], device: torch.device, *, warmup: int = 1, repeats: int = 3) -> dict[str, Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` times timed.

    Args:
        fn: the work of one iteration.
        device: synchronised before starting and before stopping each timer.
        warmup: untimed runs first.
        repeats: timed runs.

    Returns:
        ``median_s``, ``min_s``, ``times_s`` (every repeat), ``warmup``, ``repeats``.
    """
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(max(1, repeats)):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "times_s": [round(t, 5) for t in times],
        "warmup": warmup,
        "repeats": len(times),
    }


def measure(fn: Callable[[], Any], device: torch.device, *, warmup: int = 1, repeats: int = 3) -> dict[str, Any]:
    """Time ``fn`` (see :func:`time_fn`) and record the peak memory growth over warm-up and repeats.

    The baseline is taken after the caller built the model and the inputs, so the result is the
    working memory of the computation (activations, gradients, optimizer state created lazily,
    allocator caches), not the weights or inputs.

    Args:
        fn: the work of one iteration.
        device: the device.
        warmup: untimed runs first.
        repeats: timed runs.

    Returns:
        The union of :func:`time_fn` and :meth:`PeakMemory.stop` results.
    """
    meter = PeakMemory(device)
    meter.start()
    res = time_fn(fn, device, warmup=warmup, repeats=repeats)
    res.update(meter.stop())
    return res


def tensor_mb(tensors: Iterable[torch.Tensor]) -> float:
    """Total size of tensors in MiB.

    Args:
        tensors: the tensors.

    Returns:
        The size.
    """
    return sum(t.numel() * t.element_size() for t in tensors) / MB


# --------------------------------------------------------------------------------------------
# FLOPs
# --------------------------------------------------------------------------------------------


def conv_flops(c_in: int, c_out: int, k: tuple[int, int], out_hw: tuple[int, int], batch: int, groups: int = 1) -> int:
    """Multiply-add FLOPs of a dense convolution: ``2 · Cin · Cout · kH · kW · Hout · Wout · B / groups``.

    Args:
        c_in: input channels.
        c_out: output channels.
        k: kernel size.
        out_hw: output size (for a transposed convolution pass the *input* size: every input pixel
            is scattered to ``kH·kW`` outputs).
        batch: batch size.
        groups: convolution groups.

    Returns:
        The FLOP count.

    Example:
        >>> conv_flops(64, 64, (3, 3), (64, 64), 8)
        2415919104
    """
    return 2 * c_in * c_out * k[0] * k[1] * out_hw[0] * out_hw[1] * batch // groups


class FlopCounter:
    """FLOPs of a model's forward: :class:`torch.utils.flop_counter.FlopCounterMode` plus PAC's analytic term.

    Convolutions, transposed convolutions and matrix products are counted by PyTorch's own
    ``FlopCounterMode`` at the ATen level (``2·Cin·Cout·k²·Hout·Wout/groups``; transposed: over the
    input size — the formula this file used to apply with hooks, see ``tests/test_benchmarks.py``).
    The PAC layers of :mod:`stvsr_blocks.flow.pac` are replaced by their analytic cost, because
    their ATen decomposition (unfold, products, sums) is an implementation detail: the dense term
    plus the adaptive kernel, ``B·Hk·Wk·k²·(3·Cg + 1)`` for the Gaussian (difference, square, sum over
    ``Cg`` guide channels, exp) at the kernel's resolution and ``B·Cin·k²·Hin·Win`` for the
    modulation; whatever ``FlopCounterMode`` counted inside a PAC call is subtracted. Element-wise
    ops, ``grid_sample``, interpolation and pooling are not counted (bandwidth-bound, small in FLOPs).

    Args:
        model: the module tree to count.

    Attributes:
        total: FLOPs of everything run inside the ``with`` block.
        by_type: ``{"aten (FlopCounterMode)": ..., "PacConv2d": ..., "PacConvTranspose2d": ...}``.
        calls: forward calls per layer type (``Conv2d``, ``ConvTranspose2d``, PAC layers).

    Example:
        >>> with FlopCounter(nn.Conv2d(3, 8, 3, padding=1)) as fc:
        ...     _ = fc.model(torch.zeros(1, 3, 4, 4))
        >>> fc.total  # 2 * 3 * 8 * 9 * 16
        6912
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.total = 0
        self.by_type: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self._handles: list[Any] = []
        self._mode: Any = None
        self._pac_inner = 0
        self._pac_start: list[int] = []

    def _add(self, kind: str, flops: int) -> None:
        self.by_type[kind] = self.by_type.get(kind, 0) + int(flops)

    def _count(self, mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        kind = type(mod).__name__
        self.calls[kind] = self.calls.get(kind, 0) + 1

    def _pac_pre(self, mod: nn.Module, args: tuple[Any, ...]) -> None:
        self._pac_start.append(self._mode.get_total_flops())

    def _pac_post(self, mod: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        from stvsr_blocks.flow import pac

        self._pac_inner += self._mode.get_total_flops() - self._pac_start.pop()
        x = args[0]
        b = x.shape[0]
        guide = args[1] if len(args) > 1 else None
        cg = guide.shape[1] if guide is not None else 0
        kh, kw = mod.kernel_size
        k2 = kh * kw
        transposed = isinstance(mod, pac.PacConvTranspose2d)
        dense_hw = tuple(x.shape[-2:]) if transposed else tuple(out.shape[-2:])
        dense = conv_flops(mod.in_channels, mod.out_channels, (kh, kw), dense_hw, b)
        kern_hw = out.shape[-2] * out.shape[-1]  # the kernel lives on the output grid
        kernel = b * kern_hw * k2 * (3 * cg + 1)
        modulate = b * mod.in_channels * k2 * x.shape[-2] * x.shape[-1]
        self._add(type(mod).__name__, dense + kernel + modulate)

    def __enter__(self) -> FlopCounter:
        from torch.utils.flop_counter import FlopCounterMode

        from stvsr_blocks.flow import pac

        for m in self.model.modules():
            if isinstance(m, (pac.PacConv2d, pac.PacConvTranspose2d)):
                self._handles += [m.register_forward_pre_hook(self._pac_pre), m.register_forward_hook(self._pac_post)]
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, pac.PacConv2d, pac.PacConvTranspose2d)):
                self._handles.append(m.register_forward_hook(self._count))
        self._mode = FlopCounterMode(display=False)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._mode.__exit__(*exc)
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.by_type["aten (FlopCounterMode)"] = int(self._mode.get_total_flops() - self._pac_inner)
        self.total = sum(self.by_type.values())


@contextmanager
def count_calls(module: nn.Module):
    """Count forward calls of ``module`` inside the ``with`` block.

    Args:
        module: the module.

    Yields:
        A one-element list holding the running count.
    """
    n = [0]
    h = module.register_forward_hook(lambda *_: n.__setitem__(0, n[0] + 1))
    try:
        yield n
    finally:
        h.remove()
