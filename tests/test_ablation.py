"""The ablation recipe: end to end in quick mode (table, JSON, figure), resumable runs, matched configs and the
paired statistics that decide "does interaction help"."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

import stvsr_blocks.recipe.train as abl_train

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("ablation_recipe", ROOT / "recipes" / "ablation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_quick_ablation(tmp_path):
    abl = _load()
    docs = tmp_path / "docs"
    assert (
        abl.main(
            [
                "--quick",
                "--variants",
                "mbnet,no_interaction",
                "--seeds",
                "2",
                "--out",
                str(tmp_path / "o"),
                "--docs",
                str(docs),
                "--no-progress",
            ]
        )
        == 0
    )
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert set(res["variants"]) == {"mbnet", "no_interaction"}
    for agg in res["variants"].values():
        assert len(agg["runs"]) == 2
        for metric in ("vsr", "vfi", "avg"):
            mean, std = agg["photos"][metric]
            assert mean == pytest.approx(sum(r["photos"][metric] for r in agg["runs"]) / 2)
            assert std >= 0
    assert res["variants"]["mbnet"]["paper"]["avg"] == 32.41
    assert set(res["baselines"]) == {"bicubic-blend", "bicubic-flow"}
    assert all(math.isfinite(b["val_psnr"]) for b in res["baselines"].values())  # the figure's reference lines
    paired = res["variants"]["no_interaction"]["paired_vs_mbnet"]["photos"]["avg"]
    per_seed = [
        a["photos"]["avg"] - b["photos"]["avg"]
        for a, b in zip(res["variants"]["no_interaction"]["runs"], res["variants"]["mbnet"]["runs"], strict=True)
    ]
    assert paired["per_seed"] == pytest.approx(per_seed)
    margins = res["precondition"]["margins_db"]
    flow = res["baselines"]["bicubic-flow"]["photos"]["avg"]
    assert margins["mbnet"] == pytest.approx(res["variants"]["mbnet"]["photos"]["avg"][0] - flow)
    # a rerun resumes: finished runs (entry.json) are not trained again
    entry = tmp_path / "o" / "runs" / "mbnet_s0" / "entry.json"
    mtime = entry.stat().st_mtime_ns
    # --merge adds to the existing results instead of replacing them
    assert (
        abl.main(
            ["--quick", "--variants", "", "--no-baselines", "--merge", "--out", str(tmp_path / "o"), "--no-progress"]
        )
        == 0
    )
    merged = json.loads((tmp_path / "o" / "results.json").read_text())
    assert set(merged["variants"]) == {"mbnet", "no_interaction"} and merged["baselines"] == res["baselines"]
    table = (docs / "ablation_results.md").read_text()
    assert "`no_interaction`" in table and "33.48 / 30.98 / 32.41" in table and "`bicubic-flow`" in table
    assert "Paired difference to `mbnet`" in table and "Precondition" in table
    assert (docs / "ablation_curves.png").stat().st_size > 1000
    assert (
        abl.main(["--quick", "--variants", "mbnet", "--seeds", "2", "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    )
    assert entry.stat().st_mtime_ns == mtime
    # a run stopped mid-way resumes from its checkpoint instead of starting over
    (tmp_path / "o" / "runs" / "mbnet_s1" / "entry.json").unlink()
    calls = []
    real_train = abl_train.train
    abl_train.train = lambda cfg, **kw: calls.append(kw["resume"]) or real_train(cfg, **kw)
    try:
        assert (
            abl.main(["--quick", "--variants", "mbnet", "--seeds", "2", "--out", str(tmp_path / "o"), "--no-progress"])
            == 0
        )
    finally:
        abl_train.train = real_train
    assert calls == ["auto"]


@pytest.mark.parametrize("budget", ["photos", "small"])
def test_plan_and_config_are_matched(budget):
    abl = _load()
    base = abl.BUDGETS[budget]["config"]
    a = abl._variant_config(base, "mbnet", 1, False, None)
    b = abl._variant_config(base, "no_interaction", 1, False, None)
    # identical data, steps, optimiser and seed: only the model variant differs
    assert a.train == b.train and a.data == b.data and a.loss == b.loss
    assert a.model.variant != b.model.variant
    assert a.model.overrides == b.model.overrides
    assert abl.main(["--budget", "paper"]) == 0
    assert abl.BUDGETS["photos"]["config"]["data"]["layout"] == "photos"
    with pytest.raises(SystemExit, match="unknown variant"):
        abl.main(["--variants", "bogus", "--quick", "--out", "/tmp/never"])


def test_paired_difference_matches_a_paired_t_test():
    from scipy import stats

    abl = _load()
    a, b = [30.1, 30.5, 29.8, 30.3], [29.9, 30.0, 29.9, 29.7]
    d = abl.paired_difference(a, b)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    assert d["mean"] == pytest.approx(sum(diffs) / 4)
    assert d["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    # the interval is mean ± t(0.975, n-1) * sd / sqrt(n); it covers the mean and widens with the spread
    sd = stats.tstd(diffs)
    half = stats.t.ppf(0.975, 3) * sd / 2
    assert d["ci95"] == pytest.approx([d["mean"] - half, d["mean"] + half])
    wide = abl.paired_difference([30.1, 31.5, 28.8, 30.3], b)
    assert wide["ci95"][1] - wide["ci95"][0] > d["ci95"][1] - d["ci95"][0]
    # a constant difference is certain; antisymmetric
    assert abl.paired_difference([1.0, 2.0], [0.0, 1.0])["ci95"] == pytest.approx([1.0, 1.0])
    assert abl.paired_difference(b, a)["mean"] == pytest.approx(-d["mean"])
