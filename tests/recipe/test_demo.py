"""``recipes/mbnet.py demo --quick`` produces every report file; report helpers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from stvsr_blocks.recipe import report
from stvsr_blocks.recipe.demo import demo_settings

ROOT = Path(__file__).resolve().parents[2]


def test_demo_settings():
    assert demo_settings().steps >= 100
    q = demo_settings(quick=True)
    assert q.steps <= 5 and q.eval_clips == 1
    assert demo_settings(quick=True, steps=7).steps == 7


def test_report_helpers(tmp_path):
    hist = [{"step": s, "loss": 1.0 / s, "reconstruction": 0.5 / s, "lr": 1e-3} for s in range(1, 6)]
    hist[-1]["val_psnr"] = 25.0
    assert report.plot_curves(hist, tmp_path / "c.png").stat().st_size > 1000
    # one panel per quantity: loss terms, validation PSNR, learning rate (not one axis mixing units)
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "c.png").shape[1] > 1200
    with pytest.raises(ValueError, match="history"):
        report.plot_curves([{"loss": 1.0}], tmp_path / "x.png")
    p = report.crop_grid([("r", [("a", torch.rand(3, 8, 8)), ("b", torch.rand(3, 32, 32))])], tmp_path / "g.png")
    assert p.is_file()
    j = report.write_json(tmp_path / "m.json", {"psnr": float("inf")})
    assert json.loads(j.read_text()) == {"psnr": "inf"}
    r = [{"model": {"name": "m", "parameters": 3}, "overall": {"all": {"psnr_y": 30.0, "ssim_y": 0.9}}}]
    assert "| m | 3 | all | 30.00 | 0.9000 |" in report.metrics_table(r, ["psnr_y", "ssim_y"])


def test_demo_quick_writes_every_report_file(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("mbnet_recipe_cli_demo", ROOT / "recipes" / "mbnet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "demo"
    assert mod.main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    for name in ("metrics.md", "metrics.json", "curves.png", "crops.png", "upscaled.mp4", "lr_input.mp4"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    data = json.loads((out / "metrics.json").read_text())
    names = [r["model"]["name"] for r in data["results"]]
    assert names[:2] == ["bicubic-blend", "bicubic-flow"] and names[-1] == "mbnet-demo"
    assert set(names[2:-1]) <= {"mbnet-photo"}  # the shipped model, when its weights are installed
    assert data["protocol"]["name"] == "stvsr-vid4" and data["lr"]["kernel"] == "pil"
    assert data["dataset"]["layout"] == "photos" and data["dataset"]["split"] == "test"
    from stvsr_blocks.data.video import read_video, video_info

    info = video_info(out / "upscaled.mp4")
    lr = video_info(out / "lr_input.mp4")
    assert (info.height, info.width) == (4 * lr.height, 4 * lr.width) and info.fps == 2 * lr.fps
    assert read_video(out / "upscaled.mp4").shape[0] == 2 * read_video(out / "lr_input.mp4").shape[0] - 1
    printed = capsys.readouterr().out
    assert str(out / "crops.png") in printed and "Report folder" in printed
