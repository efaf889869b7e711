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
