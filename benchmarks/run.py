"""One entry point for the stvsr_blocks performance benchmarks (issue 8).

Usage::

    python benchmarks/run.py [--quick] [--device cpu|cuda] [--only NAMES] [--compile]
                             [--wait-quiet SECONDS] --out benchmarks/results/results.json

Every case runs in a **fresh subprocess** (``run.py --case NAME --json``), so that its peak memory
is read cleanly: on CPU the growth of the peak resident set (``VmHWM`` after a reset through
``/proc/self/clear_refs``, over the baseline taken once the model and inputs exist), on CUDA
``torch.cuda.max_memory_allocated``. CPU subprocesses run with a fixed glibc ``mmap`` threshold so
that freed tensors leave the resident set (see :func:`_common.malloc_env`). Timings are the median
of ``repeats`` runs after ``warmup`` runs (CUDA: synchronised).

Groups of cases (``--only`` takes comma-separated group names, case-name prefixes or full names):

- ``machine``: conv3×3 64→64 throughput (the FLOP/s "peak") and memory copy bandwidth;
- ``warp``: :func:`~stvsr_blocks.ops.warp.backward_warp` (Mpix/s, bytes vs copy bandwidth);
- ``pac``: PAC layers vs the naive unfold formulation (cases, inputs and the interleaved timing of
  ``benchmarks/bench_pac.py``);
- ``ofr``, ``refiner``, ``rdn``, ``gridnet``: the blocks of ``mbnet_baseline``, forward+backward at
  the Vimeo training size (LR 32×32, batch 16; quick: 2) and forward at inference size
  (LR 64×112 → HR 256×448, batch 1, ``torch.inference_mode``);
- ``model``: ``mbnet_baseline`` / ``mbnet_paper`` inference (frames/s) and training
  (fwd+bwd+Adam, samples/s), with analytic FLOPs and achieved FLOP/s ÷ conv3×3 peak;
- ``scale_size``: tiled inference memory/time vs frame size (up to 1080p input);
- ``scale_len``: streamed inference memory/time vs video length (:class:`StreamingUpscaler`);
- ``opt``: speed experiments (grad mode, channels_last, bf16 autocast, torch.compile with
  ``--compile``, flow-computed-once check, profile of the whole model).

Outputs: the JSON (``--out``), a Markdown table beside it (``results.md``) and ``scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

import _common as C  # noqa: E402
import torch  # noqa: E402

SCHEMA_VERSION = 1
TRAIN_LR = (32, 32)
INFER_LR = (64, 112)
GRAD_MODE_LR = (32, 56)
SCALE = 4
SHIPPED = "mbnet-photo"
SHIPPED_LR = (272, 640)
SHIPPED_LR_QUICK = (68, 160)


# ============================================================================================
# context and helpers
# ============================================================================================


@dataclass
class Ctx:
    """Options shared by the parent and every case subprocess.

    Attributes:
        device: benchmark device.
        quick: small settings (smoke test / CI).
        threads: torch intra-op threads.
        compile: also run the ``torch.compile`` experiment.
        repeats: override of the timed repeats of every case (``None``: per-case default).
        infer_lr: LR size of the inference cases (default 64×112; smaller only for smoke tests).
        train_batch_override: training batch instead of 16 / 2 (quick).
    """

    device: torch.device
    quick: bool = False
    threads: int = 1
    compile: bool = False
    repeats: int | None = None
    profile: bool = False
    infer_lr: tuple[int, int] = INFER_LR
    train_batch_override: int | None = None

    @property
    def shipped_lr(self) -> tuple[int, int]:
        """LR size of the shipped-model cases: 272×640 (→ 1088×2560), quick 68×160."""
        return SHIPPED_LR_QUICK if self.quick else SHIPPED_LR

    @property
    def train_batch(self) -> int:
        """Training batch: 16 (Vimeo setting), 2 in quick mode, or ``--train-batch``."""
        if self.train_batch_override:
            return self.train_batch_override
        return 2 if self.quick else 16

    def reps(self, full: int, quick: int = 1) -> int:
        """Timed repeats for a case.

        Args:
            full: repeats in a full run.
            quick: repeats in quick mode.

        Returns:
            ``--repeats`` if given, else ``quick``/``full``.
        """
        if self.repeats is not None:
            return self.repeats
        return quick if self.quick else full

    def flags(self) -> list[str]:
        """Command-line flags reproducing this context in a subprocess.

        Returns:
            The flags.
        """
        out = ["--device", str(self.device), "--threads", str(self.threads)]
        if self.quick:
            out.append("--quick")
        if self.compile:
            out.append("--compile")
        if self.profile:
            out.append("--profile")
        if self.repeats is not None:
            out += ["--repeats", str(self.repeats)]
        if self.train_batch_override:
            out += ["--train-batch", str(self.train_batch_override)]
        if tuple(self.infer_lr) != INFER_LR:
            out += ["--infer-lr", str(self.infer_lr[0]), str(self.infer_lr[1])]
        return out


@dataclass
class Case:
    """One benchmark case.

    Attributes:
        name: unique dotted name; the first component is its group.
        fn: ``fn(ctx) -> dict`` run inside the subprocess.
        timeout_s: subprocess time limit.
        tags: free-form labels used by the report.
    """

    name: str
    fn: Callable[[Ctx], dict[str, Any]]
    timeout_s: float = 600.0
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        """The first dotted component of the name."""
        return self.name.split(".")[0]


def _seed() -> torch.Generator:
    torch.manual_seed(0)
    return torch.Generator().manual_seed(0)


def _rand(*shape: int, device: torch.device, scale: float = 1.0) -> torch.Tensor:
    return (torch.rand(*shape) * scale).to(device)


def _zero_grad(params: list[torch.nn.Parameter]) -> None:
    for p in params:
        p.grad = None


def _tiny_model() -> tuple[torch.nn.Module, str]:
    """``models.mbnet_tiny()``; if that preset does not build, the same structure built directly."""
    from stvsr_blocks import models

    try:
        return models.mbnet_tiny(), "mbnet_tiny"
    except TypeError:  # preset out of sync with PACRefinerConfig (work in progress upstream)
        from stvsr_blocks.flow.ofr import OFRConfig
        from stvsr_blocks.flow.refiner import PACRefinerConfig
        from stvsr_blocks.vfi.gridnet import GridNetVFIConfig
        from stvsr_blocks.vsr.mbnet_vsr import RDNVSRConfig

        cfg = models.MBnetConfig(
            flow=OFRConfig(channels=16, n_resb=1), refiner=PACRefinerConfig(channels=8, guide_channels=4),
            vsr=RDNVSRConfig(D=2, C=2, G0=16, G=16), vfi=GridNetVFIConfig(widths=(8, 16, 24), feature_channels=16),
            name="mbnet_tiny(rebuilt)",
        )
        return models.build_model(cfg), "mbnet_tiny (rebuilt: models.mbnet_tiny() raised TypeError)"


def _model(name: str) -> tuple[torch.nn.Module, str]:
    """A preset by function name (``mbnet_baseline``) or a shipped model by name (``mbnet-photo``).

    Shipped models are loaded and run as ``stvsr upscale`` and ``stvsr eval`` do
    (``recipe.evaluate.load_model``: channels_last on the CPU; ``inference.keep_freed_memory``).
    """
    from stvsr_blocks import models

    if name == "mbnet_tiny":
        return _tiny_model()
    if "-" in name:
        from stvsr_blocks.inference import keep_freed_memory
        from stvsr_blocks.recipe.evaluate import load_model

        keep_freed_memory()  # as stvsr upscale / eval do on the CPU
        return load_model(name), name
    return getattr(models, name)(), name


def _inputs_like(m: torch.nn.Module, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The inputs in the model's memory format (channels_last for a model loaded with ``channels_last``)."""
    if getattr(m, "channels_last", False):
        return tuple(x.contiguous(memory_format=torch.channels_last) for x in xs)
    return xs


def _nparams(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _flops_result(res: dict[str, Any], flops_per_iter: float, *, backward: bool) -> dict[str, Any]:
    """Add FLOP totals and achieved FLOP/s (fwd+bwd counted as 3× forward)."""
    total = flops_per_iter * (3 if backward else 1)
    res["flops_forward"] = int(flops_per_iter)
    res["flops_per_iter"] = int(total)
    res["flops_note"] = "conv/PAC layers only; fwd+bwd = 3x forward" if backward else "conv/PAC layers only"
    res["achieved_flops_per_s"] = total / res["median_s"] if res["median_s"] > 0 else 0.0
    return res


def _measure_counted(model: torch.nn.Module, fn: Callable[[], Any], ctx: Ctx, *, warmup: int, repeats: int,
                     backward: bool) -> dict[str, Any]:
    """:func:`_common.measure` whose first (untimed) warm-up run counts FLOPs with hooks."""
    meter = C.PeakMemory(ctx.device)
    meter.start()
    if warmup > 0:
        with C.FlopCounter(model) as fc:
            fn()
        C.sync(ctx.device)
        res = C.time_fn(fn, ctx.device, warmup=warmup - 1, repeats=repeats)
    else:  # no warm-up: the first timed run counts (hook overhead is negligible)
        with C.FlopCounter(model) as fc:
            res = C.time_fn(fn, ctx.device, warmup=0, repeats=1)
        if repeats > 1:
            more = C.time_fn(fn, ctx.device, warmup=0, repeats=repeats - 1)
            times = res["times_s"] + more["times_s"]
            import statistics

            res.update(times_s=times, median_s=statistics.median(times), min_s=min(times), repeats=len(times))
    res["warmup"] = warmup
    res.update(meter.stop())
    res["flops_by_type"] = fc.by_type
    res["layer_calls"] = fc.calls
    return _flops_result(res, fc.total, backward=backward)


# ============================================================================================
# machine limits
# ============================================================================================


def case_conv3x3(ctx: Ctx) -> dict[str, Any]:
    """conv3×3 64→64, batch 8 at 64×64, fp32 forward: the machine's practical FLOP/s peak.

    Timed with :meth:`torch.utils.benchmark.Timer.blocked_autorange` (a short op: blocks of runs,
    per-run times, CUDA synchronised) at the benchmark's thread count.
    """
    from torch.utils.benchmark import Timer

    b, c, h, w = 8, 64, 64, 64
    conv = torch.nn.Conv2d(c, c, 3, padding=1).to(ctx.device)
    x = torch.randn(b, c, h, w, device=ctx.device)
    flops = C.conv_flops(c, c, (3, 3), (h, w), b)
    meter = C.PeakMemory(ctx.device)
    meter.start()
    with torch.inference_mode():
        conv(x)
        timer = Timer("conv(x)", globals={"conv": conv, "x": x}, num_threads=torch.get_num_threads(),
                      label="conv3x3 64->64 B8 64x64")
        m = timer.blocked_autorange(min_run_time=0.5 if ctx.quick else 2.0)
    res: dict[str, Any] = {"median_s": m.median, "min_s": min(m.times), "times_s": [round(t, 6) for t in m.times],
                           "repeats": len(m.times) * m.number_per_run, "timer": "torch.utils.benchmark.Timer"}
    res.update(meter.stop())
    res.update(shape=[b, c, h, w], flops_per_iter=flops, flops_per_s=flops / res["median_s"],
               gflops_per_s=flops / res["median_s"] / 1e9, best_gflops_per_s=flops / res["min_s"] / 1e9)
    return res


def case_copy(ctx: Ctx) -> dict[str, Any]:
    """Memory copy bandwidth: ``dst.copy_(src)`` of a large fp32 tensor (and a ``clone`` for reference)."""
    mib = 64 if ctx.quick else 256
    n = mib * 1024 * 1024 // 4
    src = torch.rand(n, device=ctx.device)
    dst = torch.empty_like(src)
    res = C.measure(lambda: dst.copy_(src), ctx.device, warmup=2, repeats=ctx.reps(7, 3))
    moved = 2 * n * 4  # read + write
    res.update(tensor_mib=mib, bytes_per_iter=moved, gb_per_s=moved / res["median_s"] / 1e9,
               best_gb_per_s=moved / res["min_s"] / 1e9)
    clone = C.time_fn(lambda: src.clone(), ctx.device, warmup=1, repeats=ctx.reps(5, 2))
    res["clone_gb_per_s"] = moved / clone["median_s"] / 1e9
    res["clone_note"] = "clone includes page faults of the fresh allocation"
    return res


# ============================================================================================
# backward_warp
# ============================================================================================


def _warp_case(batch: int, channels: int, hr: tuple[int, int], backward: bool) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        from stvsr_blocks.ops.warp import backward_warp

        b = 2 if (ctx.quick and batch > 2) else batch
        h, w = hr
        img = torch.rand(b, channels, h, w, device=ctx.device)
        flow = (torch.rand(b, 2, h, w, device=ctx.device) - 0.5) * 8
        if backward:
            img.requires_grad_()
            flow.requires_grad_()
            gout = torch.rand(b, channels, h, w, device=ctx.device)

            def fn() -> None:
                img.grad = flow.grad = None
                backward_warp(img, flow).backward(gout)
        else:

            def fn() -> None:
                with torch.inference_mode():
                    backward_warp(img, flow)

        res = C.measure(fn, ctx.device, warmup=2, repeats=ctx.reps(7, 3))
        px = b * h * w
        # compulsory traffic per pixel (fp32): fwd reads image (C) + flow (2), writes out (C);
        # bwd additionally reads grad_out (C), image (C), flow (2), writes grad_image (C), grad_flow (2)
        per_px = (2 * channels + 2) + ((3 * channels + 4) if backward else 0)
        bytes_min = px * per_px * 4
        res.update(
            batch=b, channels=channels, hr_size=[h, w], backward=backward, pixels=px,
            mpix_per_s=px / res["median_s"] / 1e6, bytes_min=bytes_min,
            effective_gb_per_s=bytes_min / res["median_s"] / 1e9,
        )
        return res

    return run


# ============================================================================================
# PAC (reuses benchmarks/bench_pac.py)
# ============================================================================================


def _pac_cases(ctx: Ctx) -> dict[str, dict[str, Any]]:
    import bench_pac

    return bench_pac.QUICK if ctx.quick else bench_pac.CASES


def _pac_case(case_name: str, impl: str, mode: str) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        import bench_pac

        case = _pac_cases(ctx)[case_name]
        fn = bench_pac._fn(case, impl)
        tiny = dict(case, batch=1, size=(8, 8), c_in=4, c_out=4, c_guide=2)
        t = {k: v.to(ctx.device) for k, v in bench_pac._inputs(case).items()}
        tt = {k: v.to(ctx.device) for k, v in bench_pac._inputs(tiny).items()}
        bench_pac._fwd_bwd(bench_pac._fn(tiny, impl), tt)  # load kernels / thread pools (as bench_pac)
        del tt
        if mode == "fwdbwd":
            work = lambda: bench_pac._fwd_bwd(fn, t)  # noqa: E731
        else:

            def work() -> None:
                with torch.inference_mode():
                    fn(t["x"], t["guide"], t["weight"], t["bias"])

        # memory: one full-size call after a full-size warm-up (steady state: one-time costs such as
        # kernel code pages and JIT buffers are excluded; freed blocks leave the RSS, see malloc_env)
        work()
        C.sync(ctx.device)
        meter = C.PeakMemory(ctx.device)
        meter.start()
        work()
        C.sync(ctx.device)
        mem = meter.stop()
        res = C.time_fn(work, ctx.device, warmup=0, repeats=ctx.reps(3, 1))
        res.update(mem)
        res["memory_scope"] = "one call after a full-size warm-up"
        res.update(case=case_name, impl=impl, mode=mode, config={k: list(v) if isinstance(v, tuple) else v
                                                                 for k, v in case.items()})
        return res

    return run


def _pac_timing(case_name: str) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        import bench_pac

        if ctx.device.type != "cpu":  # bench_pac._timing builds CPU tensors
            return {"skipped": "interleaved timing of bench_pac is CPU-only; see the per-impl times"}
        res = bench_pac._timing(_pac_cases(ctx)[case_name], ctx.reps(5, 2), ctx.threads)
        return {"interleaved": res, "case": case_name}

    return run


# ============================================================================================
# blocks of mbnet_baseline
# ============================================================================================


def _block(kind: str, batch: int, lr: tuple[int, int], ctx: Ctx) -> tuple[torch.nn.Module, tuple[Any, ...]]:
    """Build a baseline block (on ``ctx.device``) and fixed random inputs: the call is ``m(*args)``."""
    from stvsr_blocks.interfaces import MidFlows
    from stvsr_blocks.testing import make_vfi_input, make_vsr_input

    dev = ctx.device
    h, w = lr
    args: tuple[Any, ...]
    if kind == "ofr":
        from stvsr_blocks.flow.ofr import OFRConfig, OFRFlowNet

        m: torch.nn.Module = OFRFlowNet(OFRConfig())
        args = (_rand(batch, 3, h, w, device=dev), _rand(batch, 3, h, w, device=dev))
    elif kind == "refiner":
        from stvsr_blocks.flow.refiner import PACFlowRefiner, PACRefinerConfig

        # zero_init_last=False: every layer gets gradients (a trained refiner)
        m = PACFlowRefiner(PACRefinerConfig(zero_init_last=False))
        f = MidFlows((_rand(batch, 2, h, w, device=dev) - 0.5) * 4, (_rand(batch, 2, h, w, device=dev) - 0.5) * 4)
        args = (f, _rand(batch, 3, SCALE * h, SCALE * w, device=dev), _rand(batch, 3, SCALE * h, SCALE * w, device=dev))
    elif kind == "rdn":
        from stvsr_blocks.vsr.mbnet_vsr import RDNVSRConfig, RDNVSRNet

        m = RDNVSRNet(RDNVSRConfig())
        args = (make_vsr_input(batch, (h, w), SCALE, device=dev),)
    elif kind == "gridnet":
        from stvsr_blocks.vfi.gridnet import GridNetVFI, GridNetVFIConfig

        m = GridNetVFI(GridNetVFIConfig())
        args = (make_vfi_input(batch, (SCALE * h, SCALE * w), SCALE, feature_channels=64, device=dev),)
    else:
        raise ValueError(kind)
    return m.to(dev), args


def _block_loss(o: Any) -> torch.Tensor:
    """A scalar depending on every output of a block."""
    if isinstance(o, torch.Tensor):
        return o.mean()
    if hasattr(o, "flow_0to1"):
        return o.flow_0to1.mean() + o.flow_1to0.mean()
    if hasattr(o, "flow_0tot"):
        return o.flow_0tot.mean() + o.flow_1tot.mean()
    return o.sr0.mean() + o.sr1.mean() + (o.feature.mean() if o.feature is not None else 0)


def _map_tensors(obj: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    import dataclasses

    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: _map_tensors(getattr(obj, f.name), fn) for f in dataclasses.fields(obj)
                                           if f.init})
    if isinstance(obj, tuple):
        return tuple(_map_tensors(v, fn) for v in obj)
    if isinstance(obj, list):
        return [_map_tensors(v, fn) for v in obj]
    return obj


def _block_case(kind: str, mode: str) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        if mode == "train":
            batch, lr = ctx.train_batch, TRAIN_LR
        else:
            batch, lr = 1, ctx.infer_lr
        m, args = _block(kind, batch, lr, ctx)
        params = list(m.parameters())
        if mode == "train":
            m.train()

            def fn() -> None:
                _zero_grad(params)
                _block_loss(m(*args)).backward()
        else:
            m.eval()

            def fn() -> None:
                with torch.inference_mode():
                    m(*args)

        res = _measure_counted(m, fn, ctx, warmup=1, repeats=ctx.reps(2 if mode == "train" else 3, 1),
                               backward=mode == "train")
        res.update(block=kind, mode=mode, batch=batch, lr_size=list(lr), hr_size=[SCALE * lr[0], SCALE * lr[1]],
                   params=_nparams(m), items_per_s=batch / res["median_s"])
        return res

    return run


# ============================================================================================
# whole model
# ============================================================================================


def _model_case(name: str, mode: str, size: Callable[[Ctx], tuple[int, int]] | None = None) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        m, label = _model(name)
        m.to(ctx.device)
        dev = ctx.device
        if mode == "infer":
            batch, (h, w) = 1, (size(ctx) if size else ctx.infer_lr)
            a, b = _inputs_like(m, _rand(batch, 3, h, w, device=dev), _rand(batch, 3, h, w, device=dev))
            m.eval()
            # per-block time breakdown with forward pre/post hooks on the top-level blocks
            spans: dict[str, float] = {}
            handles = []
            for child in ("flow", "refiner", "vsr", "vfi"):
                mod = getattr(m, child, None)
                if mod is None:
                    continue

                def pre(_m: Any, _a: Any, child: str = child) -> None:
                    C.sync(dev)
                    spans["_t0_" + child] = time.perf_counter()

                def post(_m: Any, _a: Any, _o: Any, child: str = child) -> None:
                    C.sync(dev)
                    spans[child] = spans.get(child, 0.0) + time.perf_counter() - spans.pop("_t0_" + child)

                handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]

            def fn() -> None:
                with torch.inference_mode():
                    m(a, b)

            res = _measure_counted(m, fn, ctx, warmup=1, repeats=ctx.reps(2, 1), backward=False)
            for hd in handles:
                hd.remove()
            runs = res["warmup"] + res["repeats"]
            breakdown = {k: v / runs for k, v in spans.items() if not k.startswith("_t0_")}
            mean_total = sum(res["times_s"]) / len(res["times_s"])
            breakdown["other"] = max(0.0, mean_total - sum(breakdown.values()))
            res.update(
                model=label, mode=mode, batch=batch, lr_size=[h, w], hr_size=[SCALE * h, SCALE * w],
                params=_nparams(m), frames_per_s=3 * batch / res["median_s"],
                output_frames_per_s=2 * batch / res["median_s"],
                output_frames_note="streaming (upscale): each call adds 2 new output frames at x2",
                flops_per_output_frame=res["flops_forward"] / (3 * batch),
                time_breakdown_s=breakdown,
                time_breakdown_note="mean per forward over warm-up + repeats (first run included)",
            )
            return res
        from stvsr_blocks.losses import MBnetLoss

        batch, (h, w) = ctx.train_batch, TRAIN_LR
        lr = _rand(batch, 2, 3, h, w, device=dev)
        hr = _rand(batch, 3, 3, SCALE * h, SCALE * w, device=dev)
        loss_fn = MBnetLoss().to(dev)
        m.train()
        opt = torch.optim.Adam(m.parameters(), lr=1e-4)

        def fn() -> None:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(m(lr[:, 0], lr[:, 1]), hr, lr).total
            loss.backward()
            opt.step()

        # warm-up (kernels, Adam state) at batch <= 2, then the timed steps at the full batch
        wb = min(2, batch)
        opt.zero_grad(set_to_none=True)
        loss_fn(m(lr[:wb, 0], lr[:wb, 1]), hr[:wb], lr[:wb]).total.backward()
        opt.step()
        res = _measure_counted(m, fn, ctx, warmup=0, repeats=ctx.reps(1, 1), backward=True)
        res.update(model=label, mode=mode, batch=batch, lr_size=[h, w], hr_size=[SCALE * h, SCALE * w],
                   params=_nparams(m), samples_per_s=batch / res["median_s"], loss="MBnetLoss() total, Adam step",
                   warmup_note=f"one warm-up step at batch {wb}; the first timed step counts FLOPs (hooks)")
        return res

    return run


# ============================================================================================
# scaling
# ============================================================================================


def _scale_size_case(lr: tuple[int, int], model: str, tile: int, overlap: int) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        from stvsr_blocks.inference import TileConfig, upscale_pair

        m, label = _model(model)
        m.to(ctx.device).eval()
        h, w = lr
        a, b = _rand(1, 3, h, w, device=ctx.device), _rand(1, 3, h, w, device=ctx.device)
        tiles = TileConfig(tile=tile, overlap=overlap)
        res = C.measure(lambda: upscale_pair(m, a, b, tiles), ctx.device, warmup=0, repeats=1)
        out_px = 3 * SCALE * h * SCALE * w
        res.update(model=label, lr_size=[h, w], hr_size=[SCALE * h, SCALE * w], tile=tile, overlap=overlap,
                   output_mpix_per_s=out_px / res["median_s"] / 1e6,
                   output_mb=3 * 3 * out_px / 3 * 4 / C.MB)
        return res

    return run


def _scale_len_case(n: int, model: str, lr: tuple[int, int]) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        from stvsr_blocks.inference import StreamingUpscaler

        m, label = _model(model)
        m.to(ctx.device).eval()
        h, w = lr
        g = torch.Generator().manual_seed(0)

        def frames():  # produced lazily, like a video decoder
            for _ in range(n):
                yield torch.rand(3, h, w, generator=g).to(ctx.device)

        count = [0]
        checksum = [0.0]

        def work() -> None:
            up = StreamingUpscaler(m)
            for f in up.run(frames()):
                count[0] += 1
                checksum[0] += float(f[0, 0, 0])

        res = C.measure(work, ctx.device, warmup=0, repeats=1)
        res.update(model=label, frames_in=n, frames_out=count[0], lr_size=[h, w],
                   pairs_per_s=(n - 1) / res["median_s"], out_frames_per_s=count[0] / res["median_s"])
        return res

    return run


# ============================================================================================
# speed experiments
# ============================================================================================


def _opt_grad_mode(model: str) -> Callable[[Ctx], dict[str, Any]]:
    """Inference under plain autograd, ``no_grad`` and ``inference_mode``: time and peak memory."""

    def run(ctx: Ctx) -> dict[str, Any]:
        import contextlib

        m, label = _model(model)
        m.to(ctx.device).eval()
        h, w = GRAD_MODE_LR  # a relative comparison: half the inference size keeps it cheap
        a, b = _rand(1, 3, h, w, device=ctx.device), _rand(1, 3, h, w, device=ctx.device)
        modes = {"grad": contextlib.nullcontext, "no_grad": torch.no_grad, "inference_mode": torch.inference_mode}
        out: dict[str, Any] = {"model": label, "lr_size": [h, w]}
        with torch.inference_mode():
            m(a, b)  # shared warm-up
        for key, cm in modes.items():  # memory: each mode's growth over the same baseline
            def fn(cm: Any = cm) -> None:
                with cm():
                    o = m(a, b)
                    del o

            out[key] = C.measure(fn, ctx.device, warmup=0, repeats=ctx.reps(1, 1))
        base = out["inference_mode"]
        for key in modes:
            out[key]["time_ratio_vs_inference_mode"] = out[key]["median_s"] / base["median_s"]
            out[key]["mem_ratio_vs_inference_mode"] = out[key]["peak_extra_mb"] / max(base["peak_extra_mb"], 1e-9)
        return out

    return run


def _interleaved(fns: dict[str, Callable[[], Any]], ctx: Ctx, warmup: int, repeats: int) -> dict[str, Any]:
    """Time several variants round-robin so that load drift hits them alike."""
    import statistics

    for _ in range(warmup):
        for f in fns.values():
            f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            C.sync(ctx.device)
            t0 = time.perf_counter()
            f()
            C.sync(ctx.device)
            times[k].append(time.perf_counter() - t0)
    return {k: {"median_s": statistics.median(v), "min_s": min(v), "times_s": [round(x, 5) for x in v]}
            for k, v in times.items()}


def _first_tensor(o: Any) -> torch.Tensor:
    if isinstance(o, torch.Tensor):
        return o
    if hasattr(o, "sr0"):
        return o.sr0
    if hasattr(o, "frames"):
        return o.frames[1]
    raise TypeError(type(o))


def _opt_channels_last(kind: str) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        m, args = _block(kind, 1, ctx.infer_lr, ctx)
        m.eval()
        m_cl, _ = _block(kind, 1, ctx.infer_lr, ctx)
        m_cl.load_state_dict(m.state_dict())
        m_cl.to(memory_format=torch.channels_last).eval()
        args_cl = _map_tensors(args, lambda t: t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t)

        def f_contig() -> Any:
            with torch.inference_mode():
                return m(*args)

        def f_cl() -> Any:
            with torch.inference_mode():
                return m_cl(*args_cl)

        diff = (_first_tensor(f_contig()) - _first_tensor(f_cl())).abs().max().item()
        res = _interleaved({"contiguous": f_contig, "channels_last": f_cl}, ctx, 1, ctx.reps(3, 1))
        return {"block": kind, "lr_size": list(ctx.infer_lr), "times": res, "max_abs_diff": diff,
                "ratio_channels_last_over_contiguous": res["channels_last"]["median_s"] / res["contiguous"]["median_s"]}

    return run


def _opt_shipped_memory_format(name: str) -> Callable[[Ctx], dict[str, Any]]:
    """The shipped model channels_last (what upscale/eval run) vs contiguous, interleaved, outputs compared."""

    def run(ctx: Ctx) -> dict[str, Any]:
        m_cl, label = _model(name)
        m_cl.to(ctx.device).eval()
        m_c, _ = _model(name)
        m_c.to(ctx.device).to(memory_format=torch.contiguous_format).eval()
        m_c.channels_last = False
        h, w = ctx.shipped_lr
        a, b = _rand(1, 3, h, w, device=ctx.device), _rand(1, 3, h, w, device=ctx.device)
        a_cl, b_cl = (x.contiguous(memory_format=torch.channels_last) for x in (a, b))

        def f_contig() -> Any:
            with torch.inference_mode():
                return m_c(a, b)

        def f_cl() -> Any:
            with torch.inference_mode():
                return m_cl(a_cl, b_cl)

        diff = max((x - y).abs().max().item() for x, y in zip(f_contig().frames, f_cl().frames))
        res = _interleaved({"contiguous": f_contig, "channels_last": f_cl}, ctx, 0, ctx.reps(3, 1))
        return {"model": label, "lr_size": [h, w], "times": res, "max_abs_diff_frames": diff,
                "speedup_channels_last": res["contiguous"]["median_s"] / res["channels_last"]["median_s"]}

    return run


def _opt_bf16(kind: str) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        dev = ctx.device
        if kind.startswith("model:"):
            m, _ = _model(kind.split(":", 1)[1])
            m.to(dev).eval()
            h, w = ctx.infer_lr
            a, b = _rand(1, 3, h, w, device=dev), _rand(1, 3, h, w, device=dev)
            call = lambda: m(a, b)  # noqa: E731
        else:
            m, args = _block(kind, 1, ctx.infer_lr, ctx)
            m.eval()
            call = lambda: m(*args)  # noqa: E731

        def f32() -> Any:
            with torch.inference_mode():
                return call()

        def bf16() -> Any:
            with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16):
                return call()

        o32, o16 = _first_tensor(f32()).float(), _first_tensor(bf16()).float()
        rel = ((o32 - o16).abs().max() / o32.abs().max().clamp_min(1e-12)).item()
        res = _interleaved({"fp32": f32, "bf16_autocast": bf16}, ctx, 1, ctx.reps(3, 1))
        return {"target": kind, "lr_size": list(ctx.infer_lr), "times": res, "max_rel_diff": rel,
                "ratio_bf16_over_fp32": res["bf16_autocast"]["median_s"] / res["fp32"]["median_s"]}

    return run


def _opt_compile(kind: str) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        m, inp = _block(kind, 1, ctx.infer_lr, ctx)
        m.eval()
        compiled = torch.compile(m)

        def eager() -> Any:
            with torch.inference_mode():
                return m(*inp)

        def comp() -> Any:
            with torch.inference_mode():
                return compiled(*inp)

        t0 = time.perf_counter()
        try:
            comp()
        except Exception as exc:  # report, do not fail the run
            return {"block": kind, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
        compile_s = time.perf_counter() - t0
        diff = (_first_tensor(eager()) - _first_tensor(comp())).abs().max().item()
        res = _interleaved({"eager": eager, "compiled": comp}, ctx, 1, ctx.reps(3, 1))
        return {"block": kind, "lr_size": list(ctx.infer_lr), "compile_s": compile_s, "times": res, "max_abs_diff": diff,
                "ratio_compiled_over_eager": res["compiled"]["median_s"] / res["eager"]["median_s"]}

    return run


def warp_fused(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Candidate drop-in body for :func:`stvsr_blocks.ops.warp.backward_warp` (same result, fewer passes).

    Normalises ``base_grid + flow`` to ``[-1, 1]`` in one broadcast expression per axis instead of
    building the ``(1, 2, H, W)`` mesh grid, adding it and rescaling each channel separately.
    (Input validation of the library function omitted.)

    Args:
        image: ``(B, C, H, W)``.
        flow: ``(B, 2, H, W)`` in pixels.

    Returns:
        ``(B, C, H, W)``, equal to ``backward_warp(image, flow)`` up to rounding.
    """
    import torch.nn.functional as F

    _, _, h, w = image.shape
    sx, sy = 2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)
    if w > 1:
        xs = torch.arange(w, device=flow.device, dtype=flow.dtype).mul_(sx).sub_(1.0)
        gx = torch.addcmul(xs, flow[:, 0], torch.tensor(sx, dtype=flow.dtype, device=flow.device))
    else:
        gx = torch.zeros_like(flow[:, 0])
    if h > 1:
        ys = torch.arange(h, device=flow.device, dtype=flow.dtype).mul_(sy).sub_(1.0)[:, None]
        gy = torch.addcmul(ys, flow[:, 1], torch.tensor(sy, dtype=flow.dtype, device=flow.device))
    else:
        gy = torch.zeros_like(flow[:, 1])
    return F.grid_sample(image, torch.stack((gx, gy), dim=-1), mode="bilinear", padding_mode="border",
                         align_corners=True)


def _opt_warp_variant(batch: int, channels: int, hr: tuple[int, int]) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        from stvsr_blocks.ops.warp import backward_warp

        b = 2 if (ctx.quick and batch > 2) else batch
        h, w = hr
        img = torch.rand(b, channels, h, w, device=ctx.device)
        flow = (torch.rand(b, 2, h, w, device=ctx.device) - 0.5) * 8

        def lib() -> Any:
            with torch.inference_mode():
                return backward_warp(img, flow)

        def fused() -> Any:
            with torch.inference_mode():
                return warp_fused(img, flow)

        diff = (lib() - fused()).abs().max().item()
        res = _interleaved({"library": lib, "fused": fused}, ctx, 2, ctx.reps(15, 5))
        return {"shape": [b, channels, h, w], "times": res, "max_abs_diff": diff,
                "ratio_fused_over_library": res["fused"]["median_s"] / res["library"]["median_s"]}

    return run


def _opt_flow_once(model: str) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        m, label = _model(model)
        m.to(ctx.device).eval()
        a, b = _rand(1, 3, 32, 32, device=ctx.device), _rand(1, 3, 32, 32, device=ctx.device)
        out: dict[str, Any] = {"model": label, "iterations": int(getattr(m, "iterations", 0))}
        with torch.inference_mode():
            with C.count_calls(m.flow) as nf, C.count_calls(m.vsr) as nv, C.count_calls(m.vfi) as ni:
                if getattr(m, "refiner", None) is not None:
                    with C.count_calls(m.refiner) as nr:
                        m(a, b)
                    out["refiner_calls"] = nr[0]
                else:
                    m(a, b)
        out.update(flow_calls=nf[0], vsr_calls=nv[0], vfi_calls=ni[0], flow_computed_once=nf[0] == 1)
        return out

    return run


def _opt_profile(model: str) -> Callable[[Ctx], dict[str, Any]]:
    def run(ctx: Ctx) -> dict[str, Any]:
        from torch.profiler import ProfilerActivity, profile

        m, label = _model(model)
        m.to(ctx.device).eval()
        h, w = ctx.infer_lr
        a, b = _rand(1, 3, h, w, device=ctx.device), _rand(1, 3, h, w, device=ctx.device)
        with torch.inference_mode():
            m(a, b)
            acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if ctx.device.type == "cuda" else [])
            with profile(activities=acts) as prof:
                m(a, b)
                C.sync(ctx.device)
        rows = []
        key = "self_device_time_total" if ctx.device.type == "cuda" else "self_cpu_time_total"
        evs = sorted(prof.key_averages(), key=lambda e: getattr(e, key, 0), reverse=True)
        total = sum(getattr(e, key, 0) for e in evs) or 1
        for e in evs[:12]:
            rows.append({"op": e.key, "self_ms": getattr(e, key, 0) / 1e3, "share": getattr(e, key, 0) / total,
                         "calls": e.count})
        return {"model": label, "lr_size": [h, w], "top_ops": rows, "total_ms": total / 1e3}

    return run


# ============================================================================================
# registry
# ============================================================================================


def scale_size_plan(quick: bool) -> list[tuple[str, tuple[int, int], int, int]]:
    """The frame-size scaling sweep: ``(model, LR size, LR tile, overlap)`` per point.

    ``mbnet_tiny`` (a real MBnet structure) at the smaller sizes; the large sizes, up to 1080p input
    (4320×7680 output), use the parameter-free ``bicubic_blend`` through the same tiling code so that
    the sweep fits the time budget on 2 cores: with tiling, the model's working set depends only on
    the tile, while the HR accumulators grow with the frame.

    Args:
        quick: quick mode.

    Returns:
        The points.
    """
    if quick:
        return [("mbnet_tiny", (32, 56), 32, 8), ("mbnet_tiny", (64, 112), 32, 8),
                ("bicubic_blend", (135, 240), 128, 8), ("bicubic_blend", (270, 480), 128, 8)]
    return [("mbnet_tiny", (64, 112), 64, 8), ("mbnet_tiny", (135, 240), 64, 8),
            ("bicubic_blend", (135, 240), 128, 8), ("bicubic_blend", (270, 480), 128, 8),
            ("bicubic_blend", (540, 960), 128, 8), ("bicubic_blend", (1080, 1920), 128, 8)]


def scale_len_plan(quick: bool) -> list[tuple[str, tuple[int, int], int]]:
    """The video-length sweep: ``(model, LR frame size, number of LR frames)`` per point.

    Args:
        quick: quick mode.

    Returns:
        The points.
    """
    if quick:
        return [("bicubic_blend", (16, 16), 10), ("bicubic_blend", (16, 16), 100)]
    return [("bicubic_blend", (16, 16), n) for n in (10, 100, 1000)]


def build_cases(ctx: Ctx, *, with_pac: bool = True) -> dict[str, Case]:
    """Every case for this context, in run order.

    Args:
        ctx: the options.
        with_pac: include the PAC cases (their names come from ``bench_pac``, whose import pulls in
            the library and the test reference; skipped when not needed).

    Returns:
        Name → :class:`Case`.
    """
    cases: list[Case] = [
        Case("machine.conv3x3", case_conv3x3, 120),
        Case("machine.copy", case_copy, 120),
    ]
    b = ctx.train_batch
    hr_train = (SCALE * TRAIN_LR[0], SCALE * TRAIN_LR[1])
    hr_infer = (SCALE * ctx.infer_lr[0], SCALE * ctx.infer_lr[1])
    cases += [
        Case("warp.train_hr_c3.fwdbwd", _warp_case(b, 3, hr_train, True), 120),
        Case("warp.infer_hr_c3.fwd", _warp_case(1, 3, hr_infer, False), 120),
        Case("warp.infer_hr_c64.fwd", _warp_case(1, 64, hr_infer, False), 120),
    ]
    for pname in _pac_cases(ctx) if with_pac else ():
        for impl in ("pac", "naive", "torch"):
            cases.append(Case(f"pac.{pname}.{impl}.fwdbwd", _pac_case(pname, impl, "fwdbwd"), 300))
        for impl in ("pac", "naive"):
            cases.append(Case(f"pac.{pname}.{impl}.infer", _pac_case(pname, impl, "infer"), 300))
        cases.append(Case(f"pac.{pname}.timing", _pac_timing(pname), 600))
    for kind in ("ofr", "refiner", "rdn", "gridnet"):
        for mode in ("train", "infer"):
            cases.append(Case(f"{kind}.{mode}", _block_case(kind, mode), 600))
    for name in ("mbnet_baseline", "mbnet_paper"):
        for mode in ("infer", "train"):
            cases.append(Case(f"model.{name}.{mode}", _model_case(name, mode), 900))
    import profile_cases as P

    # the shipped-model cases and the profiles time what a user runs: glibc's default allocator (a fixed
    # mmap threshold turns every large allocation into page faults: eval's metrics ran 6x slower with it)

    up_lr, up_n = ((36, 64), 3) if ctx.quick else ((136, 320), 5)
    ev_hr, ev_n = ((360, 640), 5) if ctx.quick else ((720, 1280), 41)
    cases += [
        Case("shipped.infer", _model_case(SHIPPED, "infer", lambda c: c.shipped_lr), 900, {"malloc_env": False}),
        Case("shipped.memory_format", _opt_shipped_memory_format(SHIPPED), 900, {"malloc_env": False}),
        Case("profile.upscale", P.upscale_profile(up_lr, up_n, SHIPPED), 900, {"lr": list(up_lr), "malloc_env": False}),
        Case("profile.eval", P.eval_profile(ev_hr, ev_n, "bicubic-flow"), 900, {"hr": list(ev_hr), "malloc_env": False}),
    ]
    for model, (h, w), tile, overlap in scale_size_plan(ctx.quick):
        cases.append(Case(f"scale_size.{model}.{h}x{w}", _scale_size_case((h, w), model, tile, overlap), 900,
                          {"lr": [h, w]}))
    for model, lr, n in scale_len_plan(ctx.quick):
        cases.append(Case(f"scale_len.{model}.{n}", _scale_len_case(n, model, lr), 900, {"n": n}))
    cases += [
        Case("opt.flow_once", _opt_flow_once("mbnet_baseline"), 300),
        Case("opt.warp_fused.infer_hr_c3", _opt_warp_variant(1, 3, hr_infer), 300),
        Case("opt.warp_fused.train_hr_c3", _opt_warp_variant(b, 3, hr_train), 300),
        Case("opt.grad_mode", _opt_grad_mode("mbnet_baseline"), 900),
        Case("opt.channels_last.rdn", _opt_channels_last("rdn"), 600),
        Case("opt.channels_last.gridnet", _opt_channels_last("gridnet"), 600),
        Case("opt.bf16.rdn", _opt_bf16("rdn"), 600),
        Case("opt.bf16.gridnet", _opt_bf16("gridnet"), 600),
    ]
    if ctx.profile:
        cases.append(Case("opt.profile.mbnet_baseline", _opt_profile("mbnet_baseline"), 600))
    if ctx.compile:
        cases += [Case("opt.compile.rdn", _opt_compile("rdn"), 900),
                  Case("opt.compile.gridnet", _opt_compile("gridnet"), 900)]
    return {c.name: c for c in cases}


def quick_plan(cases: dict[str, Case]) -> list[str]:
    """What ``--quick`` runs without ``--only`` (≤ 3 minutes on 2 quiet cores): the figures that matter.

    The conv3×3 peak, one PAC case (interleaved PAC vs unfold timing), the shipped model's inference
    (FLOP/s ÷ peak, time by block) and its channels_last speed-up, and the upscale and eval profiles.

    Args:
        cases: every case.

    Returns:
        Case names.
    """
    pac = [n for n in cases if n.startswith("pac.") and n.endswith(".timing")][:1]
    return ["machine.conv3x3", *pac, "shipped.infer", "shipped.memory_format", "profile.upscale", "profile.eval"]


def select(cases: dict[str, Case], only: str | None) -> list[Case]:
    """Cases matching ``--only`` (comma-separated groups, name prefixes or full names).

    Args:
        cases: all cases.
        only: the selector, or ``None`` for all.

    Returns:
        The selected cases in run order.

    Raises:
        SystemExit: if a selector matches nothing.
    """
    if not only:
        return list(cases.values())
    picked: list[Case] = []
    for sel in [s.strip() for s in only.split(",") if s.strip()]:
        hits = [c for n, c in cases.items() if n == sel or n.startswith(sel + ".")]
        if not hits:
            raise SystemExit(f"--only: {sel!r} matches no case; known groups: "
                             f"{sorted({c.group for c in cases.values()})}")
        picked += [h for h in hits if h not in picked]
    return [c for c in cases.values() if c in picked]


# ============================================================================================
# parent: run, derive, report
# ============================================================================================


def _run_sub(case: Case, ctx: Ctx) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", case.name, "--json", *ctx.flags()]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if ctx.device.type == "cpu" and case.tags.get("malloc_env", True):
        env.update(C.malloc_env())
    env.setdefault("OMP_NUM_THREADS", str(ctx.threads))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=case.timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {case.timeout_s:.0f} s", "wall_s": time.perf_counter() - t0}
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr[-3000:]}", "wall_s": wall}
    try:
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"no JSON on stdout: {proc.stdout[-1000:]} {proc.stderr[-2000:]}", "wall_s": wall}
    res["wall_s"] = wall
    return res


def _get(results: dict[str, Any], name: str, key: str) -> Any:
    r = results.get(name)
    if not isinstance(r, dict) or "error" in r:
        return None
    return r.get(key)


def derive(results: dict[str, Any], ctx: Ctx) -> dict[str, Any]:
    """Ratios against the machine limits, PAC vs naive ratios, scaling summaries and goals.

    Args:
        results: per-case results (modified in place: derived fields are added to the cases).
        ctx: the options.

    Returns:
        ``{"peak": ..., "pac": ..., "goals": ...}``.
    """
    peak_flops = _get(results, "machine.conv3x3", "flops_per_s")
    copy_bw = _get(results, "machine.copy", "gb_per_s")
    summary: dict[str, Any] = {"conv3x3_peak_gflops": peak_flops / 1e9 if peak_flops else None,
                               "copy_bandwidth_gb_s": copy_bw}
    for name, r in results.items():
        if not isinstance(r, dict) or "error" in r:
            continue
        if name.startswith("warp.") and copy_bw:
            r["fraction_of_copy_bw"] = r["effective_gb_per_s"] / copy_bw
        if "achieved_flops_per_s" in r and peak_flops:
            r["fraction_of_conv_peak"] = r["achieved_flops_per_s"] / peak_flops
    # PAC vs naive
    pac: dict[str, Any] = {}
    for name in results:
        parts = name.split(".")
        if parts[0] != "pac" or parts[-1] != "timing":
            continue
        pname = parts[1]
        entry: dict[str, Any] = {}
        for mode in ("fwdbwd", "infer"):
            p, n = results.get(f"pac.{pname}.pac.{mode}"), results.get(f"pac.{pname}.naive.{mode}")
            if isinstance(p, dict) and isinstance(n, dict) and "error" not in p and "error" not in n:
                entry[mode] = {
                    "mem_ratio": p["peak_extra_mb"] / max(n["peak_extra_mb"], 1e-9),
                    "time_ratio_separate_runs": p["median_s"] / n["median_s"],
                    "pac_mb": p["peak_extra_mb"], "naive_mb": n["peak_extra_mb"],
                }
        inter = _get(results, name, "interleaved")
        if inter and "fwdbwd" not in entry:  # --quick: the interleaved timing only, no memory cases
            entry["fwdbwd"] = {"mem_ratio": None, "pac_mb": None, "naive_mb": None,
                               "time_ratio_separate_runs": None}
        if inter and "fwdbwd" in entry:
            entry["fwdbwd"]["time_ratio"] = inter["pac"]["median_s"] / inter["naive"]["median_s"]
            entry["fwdbwd"]["time_ratio_source"] = "bench_pac._timing (interleaved)"
        elif "fwdbwd" in entry:
            entry["fwdbwd"]["time_ratio"] = entry["fwdbwd"]["time_ratio_separate_runs"]
            entry["fwdbwd"]["time_ratio_source"] = "separate subprocesses"
        if "infer" in entry:
            entry["infer"]["time_ratio"] = entry["infer"]["time_ratio_separate_runs"]
        pac[pname] = entry
    summary["pac"] = pac
    # scaling
    summary["scale_size"] = [
        {"model": r["model"], "lr": r["lr_size"], "hr": r["hr_size"], "tile": r["tile"], "s": r["median_s"],
         "peak_total_mb": r["peak_total_mb"], "peak_extra_mb": r["peak_extra_mb"]}
        for n, r in results.items() if n.startswith("scale_size.") and isinstance(r, dict) and "error" not in r
    ]
    summary["scale_len"] = [
        {"model": r["model"], "n": r["frames_in"], "s": r["median_s"], "peak_total_mb": r["peak_total_mb"],
         "peak_extra_mb": r["peak_extra_mb"]}
        for n, r in results.items() if n.startswith("scale_len.") and isinstance(r, dict) and "error" not in r
    ]
    # goals (reported, never asserted)
    goals: dict[str, Any] = {}
    for pname, e in pac.items():
        if "fwdbwd" in e and e["fwdbwd"]["mem_ratio"] is not None:
            goals[f"pac[{pname}] peak memory <= 0.25x unfold (fwd+bwd)"] = _goal(e["fwdbwd"]["mem_ratio"], 0.25, "<=")
        if "fwdbwd" in e:
            goals[f"pac[{pname}] time <= 0.5x unfold (fwd+bwd)"] = _goal(e["fwdbwd"]["time_ratio"], 0.5, "<=")
    frac = _get(results, "shipped.infer", "fraction_of_conv_peak")
    if frac is not None:
        goals[f"{SHIPPED} CPU inference FLOP/s >= 0.8x conv3x3 peak"] = _goal(frac, 0.8, ">=")
    ev = results.get("profile.eval")
    if isinstance(ev, dict) and "error" not in ev and ev["hr_size"][0] >= 720:
        goals["eval of a 720p clip within 4 GB (process peak RSS, GiB)"] = _goal(ev["peak_total_mb"] / 1024, 4.0, "<=")
    for name in ("mbnet_baseline", "mbnet_paper"):
        frac = _get(results, f"model.{name}.infer", "fraction_of_conv_peak")
        if frac is not None:
            goals[f"{name} CPU inference FLOP/s >= 0.6x conv3x3 peak"] = _goal(frac, 0.6, ">=")
    for model in dict.fromkeys(d["model"] for d in summary["scale_len"]):
        sl = sorted((d for d in summary["scale_len"] if d["model"] == model), key=lambda d: d["n"])
        if len(sl) >= 2:
            ratio = sl[-1]["peak_total_mb"] / sl[0]["peak_total_mb"]
            extra = {"peak_total_mb": [sl[0]["peak_total_mb"], sl[-1]["peak_total_mb"]],
                     "peak_extra_mb": [sl[0]["peak_extra_mb"], sl[-1]["peak_extra_mb"]]}
            goals[f"{model}: streamed peak memory at {sl[-1]['n']} frames <= 1.1x at {sl[0]['n']} frames"] = dict(
                _goal(ratio, 1.1, "<="), **extra)
    big = [d for d in summary["scale_size"] if d["lr"][0] >= 1080]
    if big:
        g = _goal(big[0]["peak_total_mb"] / 1024, 8.0, "<=")
        g["model"] = big[0]["model"]
        real = [d for d in summary["scale_size"] if not d["model"].startswith("bicubic")]
        if real and big[0]["model"].startswith("bicubic"):
            # the tiled model's working set depends on the tile only: add the largest measured one
            work = max(d["peak_extra_mb"] for d in real)
            g["value_with_model_tile_working_set_gib"] = round((big[0]["peak_total_mb"] + work) / 1024, 3)
            g["note"] = (f"measured with {big[0]['model']}; adding the {real[0]['model']} tile working set "
                         f"({work:.0f} MB, measured at a smaller frame) gives the value_with_model_... estimate")
            g["met"] = bool(g["met"] and g["value_with_model_tile_working_set_gib"] <= 8.0)
        goals["1080p input x4 tiled within 8 GiB (process peak RSS, GiB)"] = g
    summary["goals"] = goals
    return summary


def _goal(value: float, bound: float, op: str) -> dict[str, Any]:
    ok = value <= bound if op == "<=" else value >= bound
    return {"value": round(value, 4), "bound": f"{op} {bound}", "met": bool(ok)}


def _f(x: Any, nd: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if x == 0:
            return "0"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{nd}g}" if abs(x) < 1 else f"{x:.{nd}g}" if abs(x) < 100 else f"{x:.0f}"
    return str(x)


def _shipped_markdown(r: dict[str, Any]) -> list[str]:
    """The shipped model's inference and the upscale / eval profiles (empty if none ran)."""
    L: list[str] = []
    x = r.get("shipped.infer")
    if x and "error" not in x:
        L += [f"## Shipped model `{x['model']}` ({x['params']:,} parameters)", "",
              "| LR → HR | s / call | output frames/s | GFLOP / call | GFLOP/s | ÷ conv peak | peak extra MB |",
              "|---|---|---|---|---|---|---|",
              f"| {x['lr_size'][0]}×{x['lr_size'][1]} → {x['hr_size'][0]}×{x['hr_size'][1]} | {_f(x['median_s'])} | "
              f"{_f(x['output_frames_per_s'])} | {_f(x['flops_forward'] / 1e9)} | "
              f"{_f(x['achieved_flops_per_s'] / 1e9)} | {_f(x.get('fraction_of_conv_peak'))} | {x['peak_extra_mb']} |",
              ""]
        bd = x.get("time_breakdown_s") or {}
        tot = sum(bd.values()) or 1
        if bd:
            L += ["Time by block: " + ", ".join(f"{k} {v / tot:.0%}" for k, v in bd.items()) + ".", ""]
    mf = r.get("shipped.memory_format")
    if mf and "error" not in mf:
        t = mf["times"]
        L += [f"channels_last vs contiguous (interleaved, LR {mf['lr_size'][0]}×{mf['lr_size'][1]}): "
              f"{_f(t['channels_last']['median_s'])} s vs {_f(t['contiguous']['median_s'])} s per call, "
              f"**{mf['speedup_channels_last']:.2f}×**; max |difference| of the output frames "
              f"{mf['max_abs_diff_frames']:.1e}.", ""]
    rows = [(n, x) for n, x in r.items() if n.startswith("profile.") and isinstance(x, dict) and "error" not in x]
    if rows:
        L += ["## Where the time of upscale and eval goes", "",
              "| case | model | size | frames | total s | shares | peak RSS MB |", "|---|---|---|---|---|---|---|"]
        for n, x in rows:
            size = x.get("lr_size") or x.get("hr_size")
            frames = f"{x['frames_in']} in → {x['frames_out']} out" if "frames_in" in x else str(x.get("frames"))
            shares = ", ".join(f"{k} {v:.0%}" for k, v in x["shares"].items())
            L.append(f"| {n} | {x['model']} | {size[0]}×{size[1]}{' LR' if 'lr_size' in x else ' HR'} | {frames} | "
                     f"{_f(x['median_s'])} | {shares} | {x['peak_total_mb']} |")
        L.append("")
    return L


def to_markdown(doc: dict[str, Any]) -> str:
    """Render the results as Markdown tables.

    Args:
        doc: the full results document.

    Returns:
        The Markdown text.
    """
    r, s, meta = doc["cases"], doc["summary"], doc["meta"]
    L: list[str] = [f"# stvsr_blocks benchmarks{' (quick)' if meta['quick'] else ''}", ""]
    mi = meta["machine"]
    L += [f"- machine: {mi['cpu_model']} ({mi['logical_cores']} logical cores, flags {' '.join(mi['cpu_flags'])}), "
          f"{mi['ram_gib']} GiB; torch {mi['torch']}, {mi['torch_threads']} threads, device `{mi['device']}`"
          + (f" ({mi.get('gpu')})" if mi.get("gpu") else ""),
          ]
    runs = meta.get("runs") or [{"date": mi["date"], "load_avg_start": meta["load_avg_start"],
                                 "load_avg_end": meta["load_avg_end"], "command": meta["command"],
                                 "wall_s": meta["wall_s"], "cases": list(r)}]
    for i, run in enumerate(runs):
        later = [c for later_run in runs[i + 1:] for c in later_run.get("cases", [])]
        kept = [c for c in run.get("cases", []) if c not in later]
        L.append(f"- run {i + 1}: {run['date']}; load average at start {run['load_avg_start']}, at end "
                 f"{run['load_avg_end']}; `{run['command']}`; wall {run['wall_s']:.0f} s; "
                 f"{len(kept)} of the cases below come from this run"
                 + (f" ({', '.join(sorted({c.split('.')[0] for c in kept}))})" if kept else ""))
    L.append("")
    L += ["## Machine limits", "", "| measure | value |", "|---|---|",
          f"| conv3×3 64→64 fp32 fwd (B8, 64×64) | {_f(s['conv3x3_peak_gflops'])} GFLOP/s |"]
    if s["copy_bandwidth_gb_s"]:
        L.append(f"| memory copy (`copy_`, {_get(r, 'machine.copy', 'tensor_mib')} MiB) | "
                 f"{_f(s['copy_bandwidth_gb_s'])} GB/s |")
    L.append("")
    L += _shipped_markdown(r)
    L += ["## backward_warp", "", "| case | batch×C×H×W | median ms | Mpix/s | effective GB/s | ÷ copy BW | peak extra MB |",
          "|---|---|---|---|---|---|---|"]
    for n, x in r.items():
        if n.startswith("warp.") and "error" not in x:
            L.append(f"| {n} | {x['batch']}×{x['channels']}×{x['hr_size'][0]}×{x['hr_size'][1]} | "
                     f"{x['median_s'] * 1e3:.2f} | {_f(x['mpix_per_s'])} | {_f(x['effective_gb_per_s'])} | "
                     f"{_f(x.get('fraction_of_copy_bw'))} | {x['peak_extra_mb']} |")
    L += ["", "Effective GB/s counts compulsory fp32 traffic only (image, flow, output; in backward also grad_out, "
          "grad_image, grad_flow).", ""]
    L += ["## PAC vs naive unfold (benchmarks/bench_pac.py cases)", "",
          "| case | mode | PAC peak MB | unfold peak MB | mem ratio | time ratio | PAC ms | unfold ms | plain conv ms |",
          "|---|---|---|---|---|---|---|---|---|"]
    for pname, e in s["pac"].items():
        for mode, v in e.items():
            pm = _get(r, f"pac.{pname}.pac.{mode}", "median_s")
            nm = _get(r, f"pac.{pname}.naive.{mode}", "median_s")
            tm = _get(r, f"pac.{pname}.torch.{mode}", "median_s")
            inter = _get(r, f"pac.{pname}.timing", "interleaved") if mode == "fwdbwd" else None
            if inter:
                pm, nm, tm = inter["pac"]["median_s"], inter["naive"]["median_s"], inter["torch"]["median_s"]
            L.append(f"| {pname} | {mode} | {_f(v['pac_mb'])} | {_f(v['naive_mb'])} | {_f(v['mem_ratio'])} | "
                     f"{_f(v['time_ratio'])} | {_f(pm * 1e3 if pm else None)} | {_f(nm * 1e3 if nm else None)} | "
                     f"{_f(tm * 1e3 if tm else None)} |")
    L += [""]
    L += ["## Blocks of mbnet_baseline", "",
          "| block | mode | batch | LR | params | median s | items/s | GFLOP/iter | GFLOP/s | ÷ conv peak | peak extra MB |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind in ("ofr", "refiner", "rdn", "gridnet"):
        for mode in ("train", "infer"):
            x = r.get(f"{kind}.{mode}")
            if not x:
                continue
            if "error" in x:
                L.append(f"| {kind} | {mode} | error: {x['error'][:80]} |")
                continue
            L.append(f"| {kind} | {'fwd+bwd' if mode == 'train' else 'fwd (inference_mode)'} | {x['batch']} | "
                     f"{x['lr_size'][0]}×{x['lr_size'][1]} | {x['params']:,} | {_f(x['median_s'])} | "
                     f"{_f(x['items_per_s'])} | {_f(x['flops_per_iter'] / 1e9)} | "
                     f"{_f(x['achieved_flops_per_s'] / 1e9)} | {_f(x.get('fraction_of_conv_peak'))} | "
                     f"{x['peak_extra_mb']} |")
    L += ["", "GFLOP counts convolution/PAC layers only; fwd+bwd is counted as 3× forward.", ""]
    L += ["## Whole model", "",
          "| model | mode | batch | median s | throughput | GFLOP / output frame | GFLOP/s | ÷ conv peak | peak extra MB |",
          "|---|---|---|---|---|---|---|---|---|"]
    for name in ("mbnet_baseline", "mbnet_paper"):
        for mode in ("infer", "train"):
            x = r.get(f"model.{name}.{mode}")
            if not x:
                continue
            if "error" in x:
                L.append(f"| {name} | {mode} | error: {x['error'][:80]} |")
                continue
            thr = (f"{_f(x['frames_per_s'])} frames/s" if mode == "infer" else f"{_f(x['samples_per_s'])} samples/s")
            fpf = _f(x["flops_per_output_frame"] / 1e9) if mode == "infer" else "–"
            L.append(f"| {name} ({x['params'] / 1e6:.2f}M) | {mode} | {x['batch']} | {_f(x['median_s'])} | {thr} | "
                     f"{fpf} | {_f(x['achieved_flops_per_s'] / 1e9)} | {_f(x.get('fraction_of_conv_peak'))} | "
                     f"{x['peak_extra_mb']} |")
    for name in ("mbnet_baseline", "mbnet_paper"):
        bd = _get(r, f"model.{name}.infer", "time_breakdown_s")
        if bd:
            tot = sum(bd.values()) or 1
            L.append("")
            L.append(f"{name} inference time by block: " + ", ".join(
                f"{k} {v:.2f} s ({100 * v / tot:.0f}%)" for k, v in bd.items()))
    L += [""]
    L += ["## Scaling", "", "Frame size (tiled `upscale_pair`):", "",
          "| LR size | HR size | model | tile/overlap | s | output Mpix/s | peak RSS MB | peak extra MB |",
          "|---|---|---|---|---|---|---|---|"]
    for n, x in r.items():
        if n.startswith("scale_size.") and "error" not in x:
            L.append(f"| {x['lr_size'][0]}×{x['lr_size'][1]} | {x['hr_size'][0]}×{x['hr_size'][1]} | {x['model']} | "
                     f"{x['tile']}/{x['overlap']} | {_f(x['median_s'])} | {_f(x['output_mpix_per_s'])} | "
                     f"{x['peak_total_mb']} | {x['peak_extra_mb']} |")
        elif n.startswith("scale_size."):
            L.append(f"| {n} | error: {x['error'][:100]} |")
    L += ["", "Video length (`StreamingUpscaler`):", "",
          "| LR frames | HR frames | model, LR size | s | pairs/s | peak RSS MB | peak extra MB |",
          "|---|---|---|---|---|---|---|"]
    for n, x in r.items():
        if n.startswith("scale_len.") and "error" not in x:
            L.append(f"| {x['frames_in']} | {x['frames_out']} | {x['model']}, {x['lr_size'][0]}×{x['lr_size'][1]} | "
                     f"{_f(x['median_s'])} | {_f(x['pairs_per_s'])} | {x['peak_total_mb']} | {x['peak_extra_mb']} |")
        elif n.startswith("scale_len."):
            L.append(f"| {n} | error: {x['error'][:100]} |")
    L += ["", "## Speed experiments", ""]
    x = r.get("opt.flow_once")
    if x and "error" not in x:
        L.append(f"- LR flow computed once per forward: **{x['flow_computed_once']}** ({x['model']}, "
                 f"{x['iterations']} iterations: flow {x['flow_calls']}, VSR {x['vsr_calls']}, "
                 f"refiner {x.get('refiner_calls')}, VFI {x['vfi_calls']} forward calls).")
    x = r.get("opt.grad_mode")
    if x and "error" not in x:
        L.append("- grad mode, " + x["model"] + " inference: " + "; ".join(
            f"{k}: {_f(x[k]['median_s'])} s, peak extra {x[k]['peak_extra_mb']} MB"
            for k in ("grad", "no_grad", "inference_mode")))
    for n, x in r.items():
        if n.startswith("opt.warp_fused.") and "error" not in x:
            L.append(f"- backward_warp with a fused grid normalisation (`run.warp_fused`), {'×'.join(map(str, x['shape']))}: "
                     f"ratio fused/library **{_f(x['ratio_fused_over_library'])}** (max |Δ| {x['max_abs_diff']:.1e})")
    for kind in ("rdn", "gridnet"):
        x = r.get(f"opt.channels_last.{kind}")
        if x and "error" not in x and "times" in x:
            L.append(f"- channels_last, {kind} at inference size: {_f(x['times']['channels_last']['median_s'])} s vs "
                     f"{_f(x['times']['contiguous']['median_s'])} s contiguous → ratio "
                     f"**{_f(x['ratio_channels_last_over_contiguous'])}** (max |Δ| {x['max_abs_diff']:.1e})")
    for kind in ("rdn", "gridnet"):
        x = r.get(f"opt.bf16.{kind}")
        if x and "error" not in x:
            L.append(f"- bf16 autocast, {kind} at inference size: ratio bf16/fp32 **{_f(x['ratio_bf16_over_fp32'])}** "
                     f"(max rel. Δ {x['max_rel_diff']:.1e})")
    for kind in ("rdn", "gridnet"):
        x = r.get(f"opt.compile.{kind}")
        if x and "error" not in x:
            L.append(f"- torch.compile, {kind}: compile {x['compile_s']:.0f} s, ratio compiled/eager "
                     f"**{_f(x['ratio_compiled_over_eager'])}** (max |Δ| {x['max_abs_diff']:.1e})")
        elif x:
            L.append(f"- torch.compile, {kind}: failed: {x['error'][:200]}")
    x = r.get("opt.profile.mbnet_baseline")
    if x and "error" not in x:
        L += ["", f"Top ops, {x['model']} inference at LR {x['lr_size'][0]}×{x['lr_size'][1]} (profiler, self time):", "",
              "| op | self ms | share | calls |", "|---|---|---|---|"]
        for row in x["top_ops"]:
            L.append(f"| {row['op']} | {row['self_ms']:.0f} | {100 * row['share']:.1f}% | {row['calls']} |")
    L += ["", "## Goals (reported, not asserted)", "", "| goal | value | bound | met |", "|---|---|---|---|"]
    for g, v in s["goals"].items():
        L.append(f"| {g} | {v['value']} | {v['bound']} | {'yes' if v['met'] else '**no**'} |")
    errs = [n for n, x in r.items() if isinstance(x, dict) and "error" in x]
    if errs:
        L += ["", "Errors: " + ", ".join(f"`{n}`" for n in errs)]
    return _drop_empty_sections("\n".join(L) + "\n")


def _drop_empty_sections(md: str) -> str:
    """Remove the ``## `` sections whose tables have no rows (cases not selected by ``--only`` / ``--quick``)."""
    head, *sections = md.split("\n## ")
    kept = [head]
    for sec in sections:
        lines = sec.splitlines()
        seps = [i for i, ln in enumerate(lines) if ln.startswith("|---")]
        rows = [ln for i in seps for ln in lines[i + 1:] if ln.startswith("|")]
        if seps and not rows:
            continue
        kept.append(sec)
    return "\n## ".join(kept)


def plot(doc: dict[str, Any], path: Path) -> bool:
    """Write the scaling plot (time and peak memory vs frame size and vs video length).

    Args:
        doc: the results document.
        path: PNG path.

    Returns:
        ``True`` if a plot was written.
    """
    s = doc["summary"]
    if not s["scale_size"] and not s["scale_len"]:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    if s["scale_size"]:
        ax2 = ax.twinx()
        for i, model in enumerate(dict.fromkeys(e["model"] for e in s["scale_size"])):
            d = sorted((e for e in s["scale_size"] if e["model"] == model), key=lambda e: e["lr"][0] * e["lr"][1])
            mp = [e["lr"][0] * e["lr"][1] / 1e6 for e in d]
            ax.plot(mp, [e["peak_total_mb"] for e in d], "o-", color=f"C{2 * i}", label=f"{model}: peak RSS")
            ax.plot(mp, [e["peak_extra_mb"] for e in d], "s--", color=f"C{2 * i}", alpha=0.6,
                    label=f"{model}: peak extra")
            ax2.plot(mp, [e["s"] for e in d], "^:", color=f"C{2 * i + 1}", label=f"{model}: time")
            for e, x in zip(d, mp):
                ax.annotate(f"{e['lr'][0]}×{e['lr'][1]}", (x, e["peak_total_mb"]), fontsize=7,
                            textcoords="offset points", xytext=(0, 5))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("LR input megapixels (×4 output), tiled")
        ax.set_ylabel("MB")
        ax2.set_yscale("log")
        ax2.set_ylabel("seconds per LR pair")
        ax.legend(loc="upper left", fontsize=7)
        ax2.legend(loc="lower right", fontsize=7)
        ax.set_title("tiled inference vs frame size")
    ax = axes[1]
    if s["scale_len"]:
        ax2 = ax.twinx()
        for i, model in enumerate(dict.fromkeys(e["model"] for e in s["scale_len"])):
            d = sorted((e for e in s["scale_len"] if e["model"] == model), key=lambda e: e["n"])
            n = [e["n"] for e in d]
            ax.plot(n, [e["peak_total_mb"] for e in d], "o-", color=f"C{2 * i}", label=f"{model}: peak RSS")
            ax.plot(n, [e["peak_extra_mb"] for e in d], "s--", color=f"C{2 * i}", alpha=0.6,
                    label=f"{model}: peak extra")
            ax2.plot(n, [e["s"] for e in d], "^:", color=f"C{2 * i + 1}", label=f"{model}: time")
        ax.set_xscale("log")
        ax.set_xlabel("LR frames streamed (16×16)")
        ax.set_ylabel("MB")
        ax.set_ylim(bottom=0)
        ax2.set_yscale("log")
        ax2.set_ylabel("seconds for the whole video")
        ax.legend(loc="center left", fontsize=7)
        ax2.legend(loc="lower right", fontsize=7)
        ax.set_title("streamed inference vs video length")
    fig.suptitle(f"stvsr_blocks scaling — {doc['meta']['machine']['cpu_model']}, "
                 f"{doc['meta']['machine']['torch_threads']} threads, {doc['meta']['machine']['device']}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _jsonable(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the selected benchmarks (or, with ``--case``, one case in this process).

    Args:
        argv: command-line arguments (``sys.argv[1:]`` when ``None``).

    Returns:
        The results document (or the single case's result with ``--case``).
    """
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small settings (batch 2 training, fewer repeats/sizes)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--only", default=None, help="comma-separated groups / name prefixes / case names")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "results.json")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch intra-op threads")
    ap.add_argument("--repeats", type=int, default=None, help="override timed repeats of every case")
    ap.add_argument("--compile", action="store_true", help="also try torch.compile (slow to compile)")
    ap.add_argument("--profile", action="store_true", help="also profile mbnet_baseline inference (top ops)")
    ap.add_argument("--train-batch", type=int, default=None, help="training batch instead of 16 (quick: 2)")
    ap.add_argument("--infer-lr", type=int, nargs=2, default=list(INFER_LR), metavar=("H", "W"),
                    help="LR size of the inference cases (default 64 112; change only for smoke tests)")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="first wait up to SECONDS for the 1-min load average to drop below --quiet-load")
    ap.add_argument("--quiet-load", type=float, default=1.5)
    ap.add_argument("--merge", action="store_true",
                    help="update the cases of an existing --out file instead of replacing it (meta.runs records each run)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--case", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device available")
    device = torch.device(a.device)
    torch.set_num_threads(max(1, a.threads))
    ctx = Ctx(device=device, quick=a.quick, threads=a.threads, compile=a.compile, repeats=a.repeats,
              infer_lr=(a.infer_lr[0], a.infer_lr[1]), train_batch_override=a.train_batch, profile=a.profile)
    if a.case:
        with_pac = a.case.startswith("pac.")
    else:
        with_pac = a.only is None or any(s.strip().startswith("pac") for s in a.only.split(","))
    cases = build_cases(ctx, with_pac=with_pac or a.list)

    if a.list:
        for n in cases:
            print(n)
        return {}
    if a.case:
        torch.manual_seed(0)
        res = cases[a.case].fn(ctx)
        res["load_avg_end"] = C.load_average()
        print(json.dumps(_jsonable(res)))
        return res

    selected = select(cases, a.only if a.only or not a.quick else ",".join(quick_plan(cases)))
    quiet = None
    if a.wait_quiet > 0:
        quiet = C.wait_for_quiet(a.quiet_load, a.wait_quiet)
        print(f"quiet wait: {quiet}")
    t_start = time.perf_counter()
    load_start = C.load_average()
    results: dict[str, Any] = {}
    for case in selected:
        print(f"[{time.perf_counter() - t_start:6.0f} s] {case.name} (load {C.load_average()[0]}) ...", flush=True)
        res = _run_sub(case, ctx)
        res["load_avg_before"] = load_start if not results else C.load_average()
        results[case.name] = res
        if "error" in res:
            print(f"    ERROR {res['error'][-600:]}", flush=True)
        else:
            keys = ("median_s", "gflops_per_s", "gb_per_s", "mpix_per_s", "peak_extra_mb", "peak_total_mb")
            print("    " + ", ".join(f"{k}={_f(res[k])}" for k in keys if k in res) + f" (wall {res['wall_s']:.1f} s)",
                  flush=True)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "meta": {
            "machine": C.machine_info(device),
            "quick": a.quick, "threads": a.threads, "device": str(device), "only": a.only, "compile": a.compile,
            "command": " ".join(["python", "benchmarks/run.py", *(sys.argv[1:] if argv is None else argv)]),
            "load_avg_start": load_start, "load_avg_end": C.load_average(), "quiet_wait": quiet,
            "wall_s": time.perf_counter() - t_start,
            "sizes": {"train_lr": list(TRAIN_LR), "train_batch": ctx.train_batch, "infer_lr": list(ctx.infer_lr),
                      "scale": SCALE},
        },
        "cases": results,
    }
    run_meta = {k: doc["meta"][k] for k in ("command", "load_avg_start", "load_avg_end", "quiet_wait", "wall_s")}
    run_meta["cases"] = list(results)
    run_meta["date"] = doc["meta"]["machine"]["date"]
    doc["meta"]["runs"] = [run_meta]
    if a.merge and a.out.is_file():
        old = json.loads(a.out.read_text())
        merged = dict(old.get("cases", {}))
        merged.update(results)
        results = merged
        doc["cases"] = results
        doc["meta"] = dict(old["meta"], runs=old["meta"].get("runs", []) + [run_meta])
    doc["summary"] = derive(results, ctx)
    doc = _jsonable(doc)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2))
    md = a.out.with_name("results.md") if a.out.name == "results.json" else a.out.with_suffix(".md")
    md.write_text(to_markdown(doc))
    png = a.out.with_name("scaling.png") if a.out.name == "results.json" else a.out.with_name(a.out.stem + "_scaling.png")
    if plot(doc, png):
        print(f"wrote {png}")
    print(f"wrote {a.out} and {md}")
    for g, v in doc["summary"]["goals"].items():
        print(f"  goal {'MET' if v['met'] else 'NOT MET'}: {g}: {v['value']} ({v['bound']})")
    return doc


if __name__ == "__main__":
    main()
