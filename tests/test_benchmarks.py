"""Smoke tests of ``benchmarks/run.py``: it runs, and its JSON has the documented schema.

No timing is asserted (the machine may be loaded); only that numbers are positive and that the
derived ratios were computed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"


def _run(tmp_path: Path, only: str, *extra: str) -> dict:
    out = tmp_path / "results.json"
    cmd = [sys.executable, str(RUN), "--quick", "--threads", "1", "--only", only, "--out", str(out), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (tmp_path / "results.md").is_file()
    return json.loads(out.read_text())


def _positive(x: object) -> bool:
    return isinstance(x, (int, float)) and x > 0


def test_quick_machine_and_warp_schema(tmp_path: Path) -> None:
    doc = _run(tmp_path, "machine,warp.infer_hr_c3")
    assert doc["schema_version"] == 1
    meta = doc["meta"]
    for key in ("cpu_model", "logical_cores", "torch", "torch_threads", "load_avg", "date", "device"):
        assert key in meta["machine"], key
    assert len(meta["load_avg_start"]) == 3 and meta["quick"] is True
    cases = doc["cases"]
    assert set(cases) == {"machine.conv3x3", "machine.copy", "warp.infer_hr_c3.fwd"}
    for name, res in cases.items():
        assert "error" not in res, (name, res.get("error"))
        assert _positive(res["median_s"]) and res["median_s"] <= max(res["times_s"])
        assert res["peak_extra_mb"] >= 0 and _positive(res["peak_total_mb"])
        assert res["memory_method"]
    assert _positive(cases["machine.conv3x3"]["flops_per_s"])
    assert _positive(cases["machine.copy"]["gb_per_s"])
    warp = cases["warp.infer_hr_c3.fwd"]
    assert _positive(warp["mpix_per_s"]) and _positive(warp["effective_gb_per_s"])
    assert _positive(warp["fraction_of_copy_bw"])  # derived against machine.copy
    summary = doc["summary"]
    assert _positive(summary["conv3x3_peak_gflops"]) and _positive(summary["copy_bandwidth_gb_s"])
    assert isinstance(summary["goals"], dict)


@pytest.mark.slow
def test_quick_pac_blocks_and_scaling_schema(tmp_path: Path) -> None:
    doc = _run(tmp_path, "machine.conv3x3,pac,rdn.infer,scale_len,opt.flow_once", "--repeats", "1")
    cases, summary = doc["cases"], doc["summary"]
    assert not [n for n, r in cases.items() if "error" in r]
    for entry in summary["pac"].values():
        assert _positive(entry["fwdbwd"]["mem_ratio"]) and _positive(entry["fwdbwd"]["time_ratio"])
    rdn = cases["rdn.infer"]
    assert _positive(rdn["flops_per_iter"]) and _positive(rdn["fraction_of_conv_peak"])
    assert len(summary["scale_len"]) == 2
    assert any("streamed peak memory" in g for g in summary["goals"])
    assert cases["opt.flow_once"]["flow_calls"] == 1
    assert (tmp_path / "scaling.png").is_file()


def test_gpu_check_skips_cleanly_without_cuda(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the check would measure instead of skipping")
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert "no CUDA device" in doc["skipped"] and "throughput" not in doc and doc["torch"]


def _reference_flops(model, *inputs) -> int:
    """The formula the counter applies, with plain forward hooks: conv 2·Cin·Cout·k²·HWout/groups
    (transposed: over the input size) and PAC's dense + Gaussian kernel + modulation terms."""
    import torch
    from torch import nn

    from stvsr_blocks.flow import pac

    total = [0]

    def conv(cin, cout, k, hw, b, groups=1):
        return 2 * cin * cout * k[0] * k[1] * hw[0] * hw[1] * b // groups

    def hook(mod, args, out):
        x = args[0]
        if isinstance(mod, (pac.PacConv2d, pac.PacConvTranspose2d)):
            t = isinstance(mod, pac.PacConvTranspose2d)
            k2 = mod.kernel_size[0] * mod.kernel_size[1]
            total[0] += conv(mod.in_channels, mod.out_channels, mod.kernel_size,
                             x.shape[-2:] if t else out.shape[-2:], x.shape[0])
            total[0] += x.shape[0] * out.shape[-2] * out.shape[-1] * k2 * (3 * args[1].shape[1] + 1)
            total[0] += x.shape[0] * mod.in_channels * k2 * x.shape[-2] * x.shape[-1]
        elif isinstance(mod, nn.ConvTranspose2d):
            total[0] += conv(mod.in_channels, mod.out_channels, mod.kernel_size, x.shape[-2:], x.shape[0], mod.groups)
        elif isinstance(mod, nn.Conv2d):
            total[0] += conv(mod.in_channels, mod.out_channels, mod.kernel_size, out.shape[-2:], x.shape[0],
                             mod.groups)

    hs = [m.register_forward_hook(hook) for m in model.modules()
          if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, pac.PacConv2d, pac.PacConvTranspose2d))]
    with torch.no_grad():
        model(*inputs)
    for h in hs:
        h.remove()
    return total[0]


def test_flop_counter_equals_the_conv_and_pac_formula() -> None:
    """torch's FlopCounterMode (convs) + PAC's analytic term count what the hand-written hooks counted."""
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import _common as C

    from stvsr_blocks.models import mbnet_tiny

    torch.manual_seed(0)
    model = mbnet_tiny().eval()
    a, b = torch.rand(1, 3, 16, 24), torch.rand(1, 3, 16, 24)
    with C.FlopCounter(model) as fc, torch.no_grad():
        model(a, b)
    assert fc.total == _reference_flops(model, a, b)
    assert any(k.startswith("Pac") and v > 0 for k, v in fc.by_type.items()), fc.by_type
    assert fc.by_type["aten (FlopCounterMode)"] > 0
    assert fc.calls["Conv2d"] > 0


def test_quick_runs_the_quick_plan(tmp_path: Path) -> None:
    """``--quick`` without ``--only``: the conv peak, one PAC case, the shipped model, the upscale and eval profiles."""
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(RUN), "--quick", "--threads", "1", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    cases = doc["cases"]
    assert [n.split(".")[0] for n in cases] == ["machine", "pac", "shipped", "shipped", "profile", "profile"]
    assert not [n for n, r in cases.items() if "error" in r], {n: r["error"][-300:] for n, r in cases.items() if "error" in r}
    shipped = cases["shipped.infer"]
    assert shipped["model"] == "mbnet-photo" and _positive(shipped["fraction_of_conv_peak"])
    up, ev = cases["profile.upscale"], cases["profile.eval"]
    assert set(up["timings_s"]) == {"load", "decode", "model", "encode"}
    assert abs(sum(up["shares"].values()) - 1) < 0.05 and abs(sum(ev["shares"].values()) - 1) < 0.05
    assert _positive(cases["shipped.memory_format"]["speedup_channels_last"])
    assert any("mbnet-photo CPU inference" in g for g in doc["summary"]["goals"])
    assert any(k.startswith("pac[") and "time" in k for k in doc["summary"]["goals"])
    md = (tmp_path / "results.md").read_text()
    assert "## Shipped model" in md and "## Where the time of upscale and eval goes" in md
    assert "## backward_warp" not in md  # sections of cases that did not run are left out
