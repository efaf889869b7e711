"""Tests of stvsr_blocks.data.video: PyAV streaming reader, stream info, atomic writer."""

from __future__ import annotations

import gc
import types
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from stvsr_blocks.data.video import VideoInfo, VideoWriter, default_codec, read_video, read_video_frames, video_info


def smooth_frames(n: int = 5, h: int = 32, w: int = 32) -> torch.Tensor:
    y = torch.linspace(0, 1, h)[:, None]
    x = torch.linspace(0, 1, w)[None, :]
    frames = []
    for t in range(n):
        r = (0.3 + 0.4 * x + 0.05 * t).expand(h, w)
        g = (0.2 + 0.5 * y).expand(h, w)
        b = 0.5 + 0.2 * torch.sin(3 * x + 2 * y + 0.3 * t)
        frames.append(torch.stack([r, g, b]))
    return torch.stack(frames)


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


class TestRoundTrip:
    @pytest.mark.parametrize(("codec", "suffix"), [(None, ".mp4"), ("mpeg4", ".avi"), ("libx264", ".mkv")])
    def test_round_trip(self, tmp_path: Path, codec: str | None, suffix: str) -> None:
        if codec is not None and codec != "mpeg4" and default_codec() != codec:
            pytest.skip(f"{codec} not available")
        frames = smooth_frames()
        path = tmp_path / f"clip{suffix}"
        with VideoWriter(path, fps=Fraction(25), codec=codec) as w:
            w.write(frames[:2])
            w.write(frames[2])
            w.write(iter(frames[3:]))
        assert w.frames_written == 5
        info = video_info(path)
        assert isinstance(info, VideoInfo)
        assert info.fps == 25 and isinstance(info.fps, Fraction)
        assert (info.height, info.width) == (32, 32)
        assert info.num_frames in (5, None)
        back = read_video(path)
        assert back.shape == (5, 3, 32, 32) and back.dtype == torch.float32
        assert (back - frames).abs().mean().item() < 0.05
        # frame order survives: the red channel brightens by 0.05 per frame
        reds = back[:, 0].mean(dim=(-2, -1))
        assert bool((reds[1:] > reds[:-1]).all())

    def test_ntsc_fps_and_info(self, tmp_path: Path) -> None:
        path = tmp_path / "ntsc.mp4"
        with VideoWriter(path, fps=Fraction(30000, 1001)) as w:
            w.write(smooth_frames(3, 16, 24))
        info = video_info(path)
        assert info.fps == Fraction(30000, 1001)
        assert (info.height, info.width) == (16, 24)
        assert info.codec == ("h264" if default_codec() == "libx264" else "mpeg4")
        assert info.num_frames == 3
        assert info.duration is not None and info.duration > 0

    def test_float_fps(self, tmp_path: Path) -> None:
        path = tmp_path / "f.mp4"
        with VideoWriter(path, fps=12.5) as w:
            w.write(smooth_frames(2, 16, 16))
        assert video_info(path).fps == Fraction(25, 2)

    def test_streaming(self, tmp_path: Path) -> None:
        path = tmp_path / "s.mp4"
        with VideoWriter(path) as w:
            w.write(smooth_frames(6, 16, 16))
        gen = read_video_frames(path)
        assert isinstance(gen, types.GeneratorType)
        first = next(gen)
        assert first.shape == (3, 16, 16)
        gen.close()
        assert len(list(read_video_frames(path, start=2))) == 4
        assert len(list(read_video_frames(path, start=1, max_frames=2))) == 2
        assert list(read_video_frames(path, max_frames=0)) == []
        part = read_video(path, start=4)
        assert part.shape[0] == 2


class TestWriterAtomicity:
    def test_exception_leaves_nothing(self, tmp_path: Path) -> None:
        path = tmp_path / "out.mp4"
        with pytest.raises(RuntimeError, match="boom"):
            with VideoWriter(path) as w:
                w.write(smooth_frames(2, 16, 16))
                raise RuntimeError("boom")
        assert list(tmp_path.iterdir()) == []

    def test_existing_file_untouched_on_error(self, tmp_path: Path) -> None:
        path = tmp_path / "out.mp4"
        path.write_bytes(b"old")
        with pytest.raises(ValueError, match="even height and width"):
            with VideoWriter(path) as w:
                w.write(torch.zeros(3, 15, 16))
        assert path.read_bytes() == b"old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]

    def test_temp_file_until_close(self, tmp_path: Path) -> None:
        path = tmp_path / "sub" / "out.mp4"
        w = VideoWriter(path)
        w.write(torch.zeros(3, 16, 16))
        assert not path.exists() and len(list(path.parent.iterdir())) == 1
        assert w.close() == path and path.exists()
        assert w.close() == path  # idempotent
        assert list(path.parent.iterdir()) == [path]

    def test_abort(self, tmp_path: Path) -> None:
        w = VideoWriter(tmp_path / "a.mp4")
        w.write(torch.zeros(3, 16, 16))
        w.abort()
        w.abort()
        assert list(tmp_path.iterdir()) == []


class TestExceptions:
    def test_writer(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="fps"):
            VideoWriter(tmp_path / "a.mp4", fps=0)
        with pytest.raises(ValueError, match="codec"):
            VideoWriter(tmp_path / "a.mp4", codec="no-such-codec")
        with pytest.raises(ValueError, match="cannot create a video container"):
            VideoWriter(tmp_path / "a.notaformat")
        assert list(tmp_path.iterdir()) == []
        w = VideoWriter(tmp_path / "a.mp4")
        with pytest.raises(ValueError, match=r"shape \(3, H, W\)"):
            w.write(torch.zeros(1, 16, 16))
        with pytest.raises(TypeError, match="frame"):
            w.write(torch.zeros(3, 16, 16, dtype=torch.uint8))
        w.write(torch.zeros(3, 16, 16))
        with pytest.raises(ValueError, match="like the first frame"):
            w.write(torch.zeros(3, 16, 18))
        w.close()
        with pytest.raises(RuntimeError, match="closed"):
            w.write(torch.zeros(3, 16, 16))

    def test_no_frames(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="no frame was written"):
            with VideoWriter(tmp_path / "a.mp4"):
                pass
        assert list(tmp_path.iterdir()) == []

    def test_reader(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="video file not found"):
            video_info(tmp_path / "missing.mp4")
        with pytest.raises(FileNotFoundError, match="video file not found"):
            read_video_frames(tmp_path / "missing.mp4")
        garbage = tmp_path / "garbage.mp4"
        garbage.write_bytes(b"\x00garbage" * 64)
        with pytest.raises(ValueError, match="cannot open video"):
            video_info(garbage)
        audio = write_audio_only(tmp_path / "sound.wav")
        with pytest.raises(ValueError, match="no video stream"):
            video_info(audio)
        with pytest.raises(ValueError, match="no video stream"):
            read_video(audio)
        with pytest.raises(ValueError, match="no video stream"):
            read_video_frames(audio)  # at the call, before iterating
        with pytest.raises(ValueError, match="start"):
            read_video_frames(garbage, start=-1)
        with pytest.raises(ValueError, match="max_frames"):
            read_video_frames(garbage, max_frames=-1)

    def test_read_video_empty(self, tmp_path: Path) -> None:
        path = tmp_path / "v.mp4"
        with VideoWriter(path) as w:
            w.write(torch.zeros(2, 3, 16, 16))
        with pytest.raises(ValueError, match="no frames decoded"):
            read_video(path, start=10)

    def test_decode_error(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        path = tmp_path / "v.mp4"
        with VideoWriter(path) as w:
            w.write(torch.zeros(2, 3, 16, 16))

        def broken_decode(self: object, *args: object, **kwargs: object) -> object:
            raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

        monkeypatch.setattr(av.container.InputContainer, "decode", broken_decode)
        with pytest.raises(ValueError, match="cannot decode video"):
            next(read_video_frames(path))


def test_unclosed_writer_cleans_up(tmp_path: Path) -> None:
    w = VideoWriter(tmp_path / "a.mp4")
    w.write(torch.zeros(3, 16, 16))
    del w
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_writer_output_has_umask_permissions(tmp_path):
    import os
    import stat

    import torch

    from stvsr_blocks.data.video import VideoWriter

    umask = os.umask(0o022)
    try:
        path = tmp_path / "perm.mp4"
        with VideoWriter(path, fps=10) as w:
            for _ in range(2):
                w.write(torch.rand(3, 16, 16))
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    finally:
        os.umask(umask)
