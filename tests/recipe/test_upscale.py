"""End-to-end tests of ``recipes/mbnet.py upscale``: video/PNG output, streaming, atomic failure handling."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from stvsr_blocks.data.io import list_images, read_image, write_image
from stvsr_blocks.data.video import VideoWriter, read_video, video_info
from stvsr_blocks.recipe.upscale import open_input, pick_codec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli():
    spec = importlib.util.spec_from_file_location("mbnet_recipe_cli_up", ROOT / "recipes" / "mbnet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def _frames(n: int, h: int, w: int) -> torch.Tensor:
    ys = torch.linspace(0, 1, h)[:, None].expand(h, w)
    xs = torch.linspace(0, 1, w)[None, :].expand(h, w)
    return torch.stack([torch.stack([0.2 + 0.6 * xs, 0.3 + 0.5 * ys, torch.full((h, w), 0.1 * t + 0.2)])
                        for t in range(n)])


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("in") / "in.mp4"
    with VideoWriter(path, fps=10) as w:
        w.write(_frames(6, 32, 32))
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_video_to_video(cli, video, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert cli(["upscale", str(video), "--out", str(out), "--no-progress"]) == 0
    info = video_info(out)
    assert (info.height, info.width) == (128, 128)
    assert info.fps == Fraction(20) == 2 * video_info(video).fps
    assert read_video(out).shape == (11, 3, 128, 128)
    assert info.codec == "h264" or info.codec == video_info(video).codec
    assert "11 frames" in capsys.readouterr().out
    assert _leftovers(tmp_path) == []


def test_video_to_png_tiled(cli, video, tmp_path):
    out = tmp_path / "frames"
    assert cli(["upscale", str(video), "--out", str(out), "--format", "png", "--tile", "12", "--tile-overlap", "4",
                "--max-frames", "4", "--no-progress"]) == 0
    files = list_images(out)
    assert len(files) == 7
    assert read_image(files[0]).shape == (3, 128, 128)
    assert _leftovers(tmp_path) == []


def test_frame_folder_input(cli, tmp_path):
    src = tmp_path / "src"
    for i, f in enumerate(_frames(3, 16, 20)):
        write_image(src / f"f{i}.png", f)
    out = tmp_path / "o.mkv"
    assert cli(["upscale", str(src), "--out", str(out), "--fps", "12", "--no-progress"]) == 0
    info = video_info(out)
    assert (info.height, info.width, info.fps) == (64, 80, Fraction(24))
    assert read_video(out).shape[0] == 5


def _check_error(cli, capsys, argv, pattern, out: Path):
    import re

    rc = cli(["upscale", *argv, "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert err.startswith("error:") and len(err.splitlines()) == 1 and re.search(pattern, err), err
    assert not out.exists()
    assert _leftovers(out.parent) == []


def test_missing_file(cli, tmp_path, capsys):
    _check_error(cli, capsys, [str(tmp_path / "nope.mp4")], "not found", tmp_path / "o.mp4")


def test_not_a_video(cli, tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a video\n")
    _check_error(cli, capsys, [str(bad)], "not a readable video", tmp_path / "o.mp4")


def test_no_video_stream(cli, tmp_path, capsys):
    import av
    import numpy as np

    audio = tmp_path / "tone.wav"
    with av.open(str(audio), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    _check_error(cli, capsys, [str(audio)], "no video stream", tmp_path / "o.mp4")


def test_mismatched_folder(cli, tmp_path, capsys):
    src = tmp_path / "src"
    write_image(src / "a1.png", torch.rand(3, 16, 16))
    write_image(src / "a2.png", torch.rand(3, 16, 18))
    _check_error(cli, capsys, [str(src)], "differ in size", tmp_path / "o.mp4")
    _check_error(cli, capsys, [str(src), "--format", "png"], "differ in size", tmp_path / "pngs")


def test_too_small_and_too_short(cli, tmp_path, capsys):
    src = tmp_path / "small"
    for i in range(3):
        write_image(src / f"{i}.png", torch.rand(3, 4, 4))
    _check_error(cli, capsys, [str(src)], "too small", tmp_path / "o.mp4")
    one = tmp_path / "one"
    write_image(one / "0.png", torch.rand(3, 16, 16))
    _check_error(cli, capsys, [str(one)], "at least 2", tmp_path / "o.mp4")


def test_existing_output_needs_overwrite(cli, video, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    out.write_bytes(b"keep")
    rc = cli(["upscale", str(video), "--out", str(out), "--no-progress"])
    assert rc == 2 and "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep"


def test_failure_mid_stream_leaves_nothing(video, tmp_path, monkeypatch):
    """An error after some frames were written removes the temporary output."""
    from stvsr_blocks.recipe import upscale as up

    calls = {"n": 0}
    real = up.StreamingUpscaler.run

    def boom(self, frames):
        for f in real(self, frames):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("simulated crash")
            yield f

    monkeypatch.setattr(up.StreamingUpscaler, "run", boom)
    for out, fmt in ((tmp_path / "o.mp4", "auto"), (tmp_path / "pngs", "png")):
        calls["n"] = 0
        with pytest.raises(RuntimeError, match="simulated"):
            up.upscale_video(video, out, fmt=fmt, progress=False)
        assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_open_input_and_pick_codec(video):
    inp = open_input(video)
    assert (inp.kind, inp.height, inp.width, inp.num_frames, inp.fps) == ("video", 32, 32, 6, Fraction(10))
    assert pick_codec("h264", "x.mp4") in ("libx264", "mpeg4")
    assert pick_codec("mpeg4", "x.avi") == "mpeg4"


def test_default_model_is_the_shipped_one(video, tmp_path, monkeypatch):
    import stvsr_blocks.recipe.upscale as up
    from stvsr_blocks.pretrained import DEFAULT_MODEL

    seen = []
    real = up.load_model
    monkeypatch.setattr(up, "load_model", lambda spec, **kw: seen.append(spec) or real("bicubic-blend", **kw))
    up.upscale_video(video, tmp_path / "o.mp4", max_frames=2, progress=False)
    assert seen == [DEFAULT_MODEL] == ["mbnet-photo"]


@pytest.mark.parametrize("fmt,name", [("auto", "o.mp4"), ("png", "pngs")])
def test_timings_attribute_time_to_decode_model_and_encode(video, tmp_path, monkeypatch, fmt, name):
    """Time spent inside model calls lands in ``timings["model"]``, not in decode or encode, and the parts add up."""
    import time

    from stvsr_blocks.recipe import upscale as up

    delay = {"model": 0.15, "decode": 0.03}
    real_run, real_frames = up.StreamingUpscaler.run, up.InputVideo.frames

    def slow_run(self, frames):
        for f in real_run(self, frames):
            time.sleep(delay["model"])
            yield f

    def slow_frames(self):
        for f in real_frames(self):
            time.sleep(delay["decode"])
            yield f

    monkeypatch.setattr(up.StreamingUpscaler, "run", slow_run)
    monkeypatch.setattr(up.InputVideo, "frames", slow_frames)
    res = up.upscale_video(video, tmp_path / name, fmt=fmt, model="bicubic-blend", progress=False)
    t = res.timings
    assert set(t) == {"load", "decode", "model", "encode"}
    assert all(v >= 0 for v in t.values()), t
    assert t["model"] >= delay["model"] * res.frames_out, t
    # decode holds its own sleeps and none of the model's (11 x 0.15 s would show)
    assert delay["decode"] * res.frames_in <= t["decode"] < delay["decode"] * res.frames_in + 0.8, t
    assert t["encode"] > 0
    assert abs(sum(t.values()) - res.seconds) < 0.05 * res.seconds + 0.05, (t, res.seconds)
