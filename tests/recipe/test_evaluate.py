"""End-to-end tests of ``recipes/mbnet.py eval`` (tiny sizes) and its window plan."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from stvsr_blocks.data.io import write_image
from stvsr_blocks.recipe.evaluate import UserError, load_model, plan_windows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli():
    spec = importlib.util.spec_from_file_location("mbnet_recipe_cli", ROOT / "recipes" / "mbnet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def _smooth_frames(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Smooth moving gradients: bicubic does well on them."""
    g = torch.Generator().manual_seed(seed)
    ys = torch.linspace(0, 1, h)[:, None]
    xs = torch.linspace(0, 1, w)[None, :]
    frames = []
    phase = torch.rand(3, generator=g) * 6
    for t in range(n):
        chans = [0.5 + 0.35 * torch.sin(2.0 * xs * 3 + 1.5 * ys * 3 + phase[c] + 0.15 * t) for c in range(3)]
        frames.append(torch.stack([c.expand(h, w) for c in chans]))
    return torch.stack(frames)


class TestPlanWindows:
    def test_odd_length(self):
        windows, kinds = plan_windows(7)
        assert [w.inputs for w in windows] == [(0, 2), (2, 4), (4, 6)]
        assert kinds == {0: "vsr", 1: "vfi", 2: "vsr", 3: "vfi", 4: "vsr", 5: "vfi", 6: "vsr"}
        assert not any(w.extra for w in windows)

    def test_even_tail_extra_window(self):
        windows, kinds = plan_windows(6)
        assert windows[-1].extra and windows[-1].inputs == (4, 5) and windows[-1].outputs == ((2, 5),)
        assert sorted(kinds) == list(range(6)) and kinds[5] == "vsr"

    def test_two_frames(self):
        windows, kinds = plan_windows(2)
        assert len(windows) == 1 and windows[0].outputs == ((0, 0), (2, 1))
        assert kinds == {0: "vsr", 1: "vsr"}

    def test_vfi_scores_middle_only(self):
        windows, kinds = plan_windows(3, "vfi")
        assert [(w.inputs, w.outputs) for w in windows] == [((0, 2), ((1, 1),))]
        assert kinds == {1: "vfi"}

    def test_exception(self):
        with pytest.raises(ValueError, match="num_frames"):
            plan_windows(1)
        with pytest.raises(ValueError, match="num_frames"):
            plan_windows(2, "vfi")
        with pytest.raises(ValueError, match="task"):
            plan_windows(5, "vsr")


def test_eval_synthetic_bicubic_blend(cli, tmp_path, capsys):
    out = tmp_path / "rep"
    rc = cli(["eval", "--model", "bicubic-blend", "--layout", "synthetic", "--synthetic-clips", "2",
              "--synthetic-size", "32x32", "--synthetic-frames", "5", "--out", str(out), "--quiet"])
    assert rc == 0
    data = json.loads((out / "metrics.json").read_text())
    assert {"library", "protocol", "lr", "windows", "dataset", "results"} <= set(data)
    assert data["protocol"]["name"] == "stvsr-vimeo" and data["lr"]["kernel"] == "matlab"
    assert data["lr"]["degradation"] == "bicubic-matlab-x4"
    (res,) = data["results"]
    assert res["model"]["name"] == "bicubic-blend" and res["model"]["parameters"] == 0
    assert set(res["overall"]) == {"all", "vsr", "vfi"}
    for key in ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb"):
        v = res["overall"]["all"][key]
        assert math.isfinite(v)
    assert res["overall"]["all"]["psnr_y"] > 15
    assert 0 < res["overall"]["all"]["ssim_y"] <= 1
    assert len(res["per_clip"]) == 2 and res["n_frames"] == 10
    clip = next(iter(res["per_clip"].values()))
    assert clip["n_frames"] == {"all": 5, "vsr": 3, "vfi": 2}
    md = (out / "metrics.md").read_text()
    assert "stvsr-vimeo" in md and "PSNR-Y" in md and "bicubic-blend" in md
    assert "PSNR-Y" in capsys.readouterr().out


def test_eval_vid4_tree_even_and_odd_clips(cli, tmp_path):
    root = tmp_path / "Vid4"
    for name, n in (("calendar", 4), ("city", 5)):
        for i, f in enumerate(_smooth_frames(n, 32, 36, seed=len(name))):
            write_image(root / "GT" / name / f"{i:08d}.png", f)
    out = tmp_path / "rep"
    assert cli(["eval", "--model", "bicubic-blend", "--layout", "vid4", "--root", str(root), "--out", str(out),
                "--quiet"]) == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["protocol"]["name"] == "stvsr-vid4" and data["dataset"]["layout"] == "vid4"
    res = data["results"][0]
    # even-length clip: frames 0, 2 from the regular window, 3 from the extra tail window (VSR); 1 is VFI
    assert res["per_clip"]["calendar"]["n_frames"] == {"all": 4, "vsr": 3, "vfi": 1}
    assert res["per_clip"]["city"]["n_frames"] == {"all": 5, "vsr": 3, "vfi": 2}
    assert res["overall"]["all"]["psnr_y"] > 25


def test_eval_vfi_protocol_scores_middle_frame(cli, tmp_path):
    root = tmp_path / "ucf"
    frames = _smooth_frames(3, 32, 32)
    for name, f in zip(("frame_00.png", "frame_01_gt.png", "frame_02.png"), frames):
        write_image(root / "1" / name, f)
    out = tmp_path / "rep"
    assert cli(["eval", "--model", "bicubic-blend", "--layout", "ucf101", "--root", str(root), "--out", str(out),
                "--quiet"]) == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["protocol"]["name"] == "vfi-ucf101" and data["lr"]["kernel"] == "matlab"
    res = data["results"][0]
    assert set(res["overall"]) == {"all", "vfi"} and res["n_frames"] == 1


def test_eval_saved_tiny_checkpoint_limit(cli, tmp_path):
    from stvsr_blocks.models import mbnet_tiny, save_pretrained

    ckpt = save_pretrained(mbnet_tiny(), tmp_path / "tiny")
    out = tmp_path / "rep"
    assert cli(["eval", "--model", str(ckpt), "--layout", "synthetic", "--synthetic-clips", "3", "--limit", "1",
                "--synthetic-size", "32x32", "--synthetic-frames", "3", "--tile", "6", "--tile-overlap", "2",
                "--out", str(out), "--quiet"]) == 0
    data = json.loads((out / "metrics.json").read_text())
    res = data["results"][0]
    assert res["model"]["name"] == "mbnet_tiny" and res["model"]["parameters"] > 100_000
    assert len(res["model"]["weights_sha256"]) == 64 and res["n_clips"] == 1
    assert data["tiles"] == {"tile": 6, "overlap": 2}
    assert math.isfinite(res["overall"]["all"]["psnr_y"])


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (["--layout", "vid4", "--root", "{tmp}/missing"], "missing|not found|No such"),
        (["--model", "{tmp}/nothing-here", "--layout", "synthetic"], "--model"),
        (["--layout", "vid4"], "--root"),
        (["--layout", "synthetic", "--tile", "4", "--tile-overlap", "2"], "tile"),
    ],
)
def test_eval_user_errors(cli, tmp_path, capsys, argv, pattern):
    import re

    rc = cli(["eval", *[a.format(tmp=tmp_path) for a in argv], "--out", str(tmp_path / "rep"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and re.search(pattern, err)
    assert not (tmp_path / "rep").exists()


def test_eval_registered_layout(cli, tmp_path):
    # a layout added with register_layout alone is an --layout choice, with its default protocol
    import stvsr_blocks.data.layouts as layouts
    from stvsr_blocks.data.layout import ClipSpec, Layout

    def list_clips(root, splits, problems):
        return [ClipSpec(d.name, tuple(sorted(d.glob("*.png")))) for d in sorted(root.iterdir())]

    root = tmp_path / "mine"
    for i, f in enumerate(_smooth_frames(3, 32, 32)):
        write_image(root / "a" / f"{i}.png", f)
    layouts.register_layout(Layout("my-clips", "<clip>/*.png", protocol="vfi-ucf101", list_clips=list_clips))
    try:
        out = tmp_path / "rep"
        assert cli(["eval", "--model", "bicubic-blend", "--layout", "my-clips", "--root", str(root), "--out",
                    str(out), "--quiet"]) == 0
    finally:
        layouts._REGISTRY.pop("my-clips")
    data = json.loads((out / "metrics.json").read_text())
    assert data["protocol"]["name"] == "vfi-ucf101" and data["dataset"]["layout"] == "my-clips"
    assert data["results"][0]["n_frames"] == 1


def test_eval_photos_split(cli, tmp_path):
    out = tmp_path / "rep"
    assert cli(["eval", "--model", "bicubic-blend", "--layout", "photos", "--split", "val", "--synthetic-clips", "1",
                "--synthetic-size", "32x32", "--synthetic-frames", "3", "--quiet", "--out", str(out)]) == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["protocol"]["name"] == "stvsr-vid4" and list(data["results"][0]["per_clip"]) == ["photos-val-0000000"]


def test_load_model_errors(tmp_path):
    with pytest.raises(UserError, match="neither a shipped model"):
        load_model("no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no checkpoint"):
        load_model(tmp_path / "empty")


class TestNiqeInEval:
    def test_niqe_reported_per_frame_group(self, cli, tmp_path, capsys):
        out = tmp_path / "ev"
        rc = cli(["eval", "--model", "bicubic-blend", "--layout", "synthetic", "--synthetic-clips", "1",
                  "--synthetic-size", "96x192", "--synthetic-frames", "3", "--niqe", "--quiet", "--out", str(out)])
        assert rc == 0
        doc = json.loads((out / "metrics.json").read_text())
        assert "niqe" in doc["protocol"]["metrics"]
        for group in ("all", "vsr", "vfi"):
            value = doc["results"][0]["overall"][group]["niqe"]
            assert math.isfinite(value) and value > 0
        assert "NIQE" in (out / "metrics.md").read_text()

    def test_without_flag_no_niqe(self, cli, tmp_path):
        out = tmp_path / "ev"
        assert cli(["eval", "--model", "bicubic-blend", "--layout", "synthetic", "--synthetic-clips", "1",
                    "--synthetic-size", "32x32", "--synthetic-frames", "3", "--quiet", "--out", str(out)]) == 0
        assert "niqe" not in json.loads((out / "metrics.json").read_text())["results"][0]["overall"]["all"]

    def test_frames_too_small_is_one_line(self, cli, tmp_path, capsys):
        rc = cli(["eval", "--model", "bicubic-blend", "--layout", "synthetic", "--synthetic-clips", "1",
                  "--synthetic-size", "64x64", "--synthetic-frames", "3", "--niqe", "--quiet", "--out", str(tmp_path)])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and "--niqe" in err and "96x96 patches, got a 64x64 image" in err and "\n" not in err


def test_split_on_a_layout_without_splits_is_ignored_with_a_notice(tmp_path):
    """``--split`` was ignored by layouts without splits before the registry; it still is, with a FutureWarning."""
    from stvsr_blocks.recipe.evaluate import iter_clips

    for i, f in enumerate(_smooth_frames(3, 16, 16)):
        write_image(tmp_path / "clip" / f"{i:03d}.png", f)
    with pytest.warns(FutureWarning, match="--split 'test' is ignored: layout 'frames' has no splits"):
        n, clips = iter_clips("frames", tmp_path / "clip", split="test")
    assert n == 1 and next(iter(clips)).hr.shape == (3, 3, 16, 16)
