"""The ablation recipe runs end to end in quick mode and writes its table, JSON and figure."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

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
    assert abl.main(["--quick", "--variants", "mbnet,no_interaction", "--seeds", "2", "--out", str(tmp_path / "o"),
                     "--docs", str(docs), "--no-progress"]) == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert set(res["variants"]) == {"mbnet", "no_interaction"}
    for agg in res["variants"].values():
        assert len(agg["runs"]) == 2
        for metric in ("vsr", "vfi", "avg"):
            mean, std = agg["synthetic"][metric]
            assert mean == pytest.approx(sum(r["synthetic"][metric] for r in agg["runs"]) / 2)
            assert std >= 0
    assert res["variants"]["mbnet"]["paper"]["avg"] == 32.41
    assert set(res["baselines"]) == {"bicubic-blend", "bicubic-flow"}
    # --merge adds to the existing results instead of replacing them
    assert abl.main(["--quick", "--variants", "", "--no-baselines", "--merge", "--out", str(tmp_path / "o"),
                     "--no-progress"]) == 0
    merged = json.loads((tmp_path / "o" / "results.json").read_text())
    assert set(merged["variants"]) == {"mbnet", "no_interaction"} and merged["baselines"] == res["baselines"]
    table = (docs / "ablation_results.md").read_text()
    assert "`no_interaction`" in table and "33.48 / 30.98 / 32.41" in table and "`bicubic-flow`" in table
    assert (docs / "ablation_curves.png").stat().st_size > 1000


def test_plan_and_config_are_matched():
    abl = _load()
    base = abl.BUDGETS["small"]["config"]
    a = abl._variant_config(base, "mbnet", 1, False, None)
    b = abl._variant_config(base, "no_interaction", 1, False, None)
    # identical data, steps, optimiser and seed: only the model variant differs
    assert a.train == b.train and a.data == b.data and a.loss == b.loss
    assert a.model.variant != b.model.variant
    assert abl.main(["--budget", "paper"]) == 0
    with pytest.raises(SystemExit, match="unknown variant"):
        abl.main(["--variants", "bogus", "--quick", "--out", "/tmp/never"])
