"""``stvsr upscale``: audio kept (copied or transcoded) or dropped, exact frame-rate arithmetic, encoder settings
checked before any work, default output name."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import av
import pytest
import torch

from stvsr_blocks.cli import main as cli
from stvsr_blocks.data.io import list_images, write_image
from stvsr_blocks.data.video import (
    CRF_ENCODERS,
    EncoderOptionError,
    VideoWriter,
    check_encoder,
    plan_audio,
    read_video,
    video_info,
)
from stvsr_blocks.recipe import upscale as up
from tests.recipe.audio_clip import make_clip

pytestmark = pytest.mark.usefixtures("one_thread")
BASE = ["--model", "bicubic-blend", "--no-progress"]


def _streams(path: Path) -> dict[str, list[tuple[str, float | None]]]:
    """{"video": [(codec, duration s)], "audio": [...]} from the stream headers (or the packets when absent)."""
    out: dict[str, list[tuple[str, float | None]]] = {"video": [], "audio": []}
    with av.open(str(path)) as c:
        for s in c.streams:
            if s.type not in out:
                continue
            dur = float(s.duration * s.time_base) if s.duration else None
            if dur is None:  # e.g. Matroska/WebM: end of the last packet
                ends = [float((p.pts + (p.duration or 0)) * p.time_base) for p in c.demux(s) if p.pts is not None]
                c.seek(0)
                dur = max(ends) if ends else None
            out[s.type].append((s.codec_context.name, dur))
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, float]:
    """10 frames at 10 fps with a 1.0 s AAC track."""
    path = tmp_path_factory.mktemp("in") / "clip.mp4"
    return path, make_clip(str(path), frames=10, fps=10, size=16)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class TestAudio:
    def test_copied_with_the_same_duration(self, clip, tmp_path, capsys):
        src, seconds = clip
        out = tmp_path / "o.mp4"
        assert cli(["upscale", str(src), "--out", str(out), *BASE]) == 0
        captured = capsys.readouterr()
        assert captured.err == ""  # a copy needs no notice
        assert "audio: aac copied" in captured.out
        s = _streams(out)
        assert [c for c, _ in s["audio"]] == ["aac"]
        frame = 1 / 20
        assert abs(s["audio"][0][1] - seconds) <= frame
        assert abs(s["video"][0][1] - seconds) <= 1 / 10  # 19 frames at 20 fps: the input's 10 frames at 10 fps
        with av.open(str(src)) as a, av.open(str(out)) as b:  # stream copy: the same packets
            pa = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
            pb = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
        assert pa == pb

    def test_no_audio_drops_it(self, clip, tmp_path):
        out = tmp_path / "o.mp4"
        assert cli(["upscale", str(clip[0]), "--out", str(out), "--no-audio", *BASE]) == 0
        assert _streams(out)["audio"] == []
        assert read_video(out).shape[0] == 19

    def test_transcoded_when_the_container_refuses_the_codec(self, clip, tmp_path, capsys):
        src, seconds = clip
        out = tmp_path / "o.webm"
        assert cli(["upscale", str(src), "--out", str(out), *BASE]) == 0
        err = capsys.readouterr().err.strip().splitlines()
        assert err == ["note: audio stream 1 (aac) transcoded to libopus: the .webm container does not accept it as is"]
        (codec, dur), = _streams(out)["audio"]
        assert codec == "opus" and abs(dur - seconds) <= 1 / 20

    def test_pcm_into_mp4_is_transcoded(self, tmp_path, capsys):
        # MP4 lists PCM among its codecs but rejects this stream (no channel order) when finalised: the trial
        # copy finds that out, so the track is transcoded instead of the run failing at the end
        src = tmp_path / "pcm.mkv"
        seconds = make_clip(str(src), frames=6, fps=12, size=16, audio_codec="pcm_s16le", rate=8000)
        assert [t.action for t in plan_audio(src, "x.mp4")] == ["transcode"]
        assert [t.action for t in plan_audio(src, "x.mkv")] == ["copy"]
        out = tmp_path / "o.mp4"
        assert cli(["upscale", str(src), "--out", str(out), *BASE]) == 0
        assert "transcoded to aac" in capsys.readouterr().err
        (codec, dur), = _streams(out)["audio"]
        assert codec == "aac" and abs(dur - seconds) <= 1 / 24

    def test_max_frames_cuts_the_audio(self, clip, tmp_path):
        out = tmp_path / "o.mp4"
        assert cli(["upscale", str(clip[0]), "--out", str(out), "--max-frames", "4", *BASE]) == 0
        s = _streams(out)
        assert read_video(out).shape[0] == 7
        assert abs(s["audio"][0][1] - 0.4) <= 1 / 20

    def test_aligned_on_the_first_video_frame(self, tmp_path):
        # the video starts 0.5 s after the sound: that half second has no picture and is left out
        src = tmp_path / "late.mp4"
        make_clip(str(src), frames=10, fps=10, size=16, video_start=5, audio_seconds=1.5)
        with av.open(str(src)) as c:
            assert float(c.streams.video[0].start_time * c.streams.video[0].time_base) == 0.5
        out = tmp_path / "o.mp4"
        with VideoWriter(out, fps=20, audio_from=src) as w:
            w.write(torch.rand(19, 3, 32, 32))
        s = _streams(out)
        assert abs(s["audio"][0][1] - 1.0) <= 1 / 20 and abs(s["video"][0][1] - 0.95) < 1e-6
        with av.open(str(out)) as c:
            assert [float(st.start_time * st.time_base) for st in c.streams] == [0.0, 0.0]
            a = c.streams.audio[0]
            first = min(float(p.pts * p.time_base) for p in c.demux(a) if p.size)
        assert -1024 / 44100 <= first <= 0  # at most one AAC frame (1024 samples) overlaps the start

    def test_png_output_says_the_audio_is_not_kept(self, clip, tmp_path, capsys):
        out = tmp_path / "frames"
        assert cli(["upscale", str(clip[0]), "--out", str(out), "--format", "png", "--max-frames", "3", *BASE]) == 0
        assert capsys.readouterr().err.strip() == "note: the audio of clip.mp4 is not kept in PNG frames"
        assert len(list_images(out)) == 5


class TestFrameRate:
    @pytest.mark.parametrize("factor", [2, 3, 4])
    def test_ntsc_rate_multiplied_exactly(self, tmp_path, factor):
        src = tmp_path / "ntsc.mp4"
        make_clip(str(src), frames=4, fps=Fraction(30000, 1001), size=16, audio=False)
        out = tmp_path / "o.mp4"
        assert cli(["upscale", str(src), "--out", str(out), "--time-factor", str(factor), *BASE]) == 0
        info = video_info(out)
        assert info.fps == Fraction(30000 * factor, 1001)
        assert read_video(out).shape[0] == factor * (4 - 1) + 1

    def test_fps_flag_takes_a_fraction(self, tmp_path, capsys):
        src = tmp_path / "frames"
        for i in range(3):
            write_image(src / f"{i}.png", torch.rand(3, 8, 8))
        out = tmp_path / "o.mp4"
        assert cli(["upscale", str(src), "--out", str(out), "--fps", "24000/1001", *BASE]) == 0
        assert video_info(out).fps == Fraction(48000, 1001)
        assert "48000/1001 (47.952) fps" in capsys.readouterr().out
        assert read_video(out).shape[0] == 5


class TestEncoderSettings:
    def _x264_settings(self, path: Path) -> str:
        data = path.read_bytes()
        i = data.index(b"x264 - core")
        return data[i:i + 2000].split(b"\x00")[0].decode("latin-1")

    def test_default_crf_is_visually_lossless(self, clip, tmp_path):
        out = tmp_path / "o.mp4"
        assert cli(["upscale", str(clip[0]), "--out", str(out), "--codec", "libx264", *BASE]) == 0
        assert " crf=18.0 " in self._x264_settings(out)
        assert CRF_ENCODERS["libx264"][2] == CRF_ENCODERS["libx265"][2] == 18

    def test_crf_preset_and_pix_fmt_are_applied(self, clip, tmp_path):
        lo, hi = tmp_path / "lo.mp4", tmp_path / "hi.mp4"
        assert cli(["upscale", str(clip[0]), "--out", str(lo), "--crf", "40", "--preset", "ultrafast",
                    "--no-audio", *BASE]) == 0
        assert cli(["upscale", str(clip[0]), "--out", str(hi), "--crf", "0", "--pix-fmt", "yuv444p",
                    "--no-audio", *BASE]) == 0
        s_lo, s_hi = self._x264_settings(lo), self._x264_settings(hi)
        assert " crf=40.0 " in s_lo and " subme=0 " in s_lo  # ultrafast
        assert " subme=7 " in s_hi  # medium, the encoder default
        assert lo.stat().st_size < hi.stat().st_size
        with av.open(str(hi)) as c:
            assert c.streams.video[0].codec_context.pix_fmt == "yuv444p"

    @pytest.mark.parametrize(("argv", "pattern"), [
        (["--codec", "libnothing"], r"^error: --codec: no encoder 'libnothing' in this PyAV/FFmpeg build"),
        (["--codec", "aac"], r"^error: --codec: 'aac' is an audio encoder"),
        (["--codec", "libx264", "--out-suffix", ".webm"], r"^error: --codec: the \.webm container does not accept libx264"),
        (["--crf", "52"], r"^error: --crf: libx264 accepts 0\.\.51, got 52$"),
        (["--crf", "-1"], r"^error: --crf: libx264 accepts 0\.\.51, got -1$"),
        (["--codec", "mpeg4", "--crf", "20"], r"^error: --crf: mpeg4 has no constant-rate-factor mode"),
        (["--preset", "warp9"], r"^error: --preset: libx264 accepts ultrafast, .*, got 'warp9'$"),
        (["--codec", "mpeg4", "--preset", "fast"], r"^error: --preset: mpeg4 has no preset"),
        (["--pix-fmt", "rgb48be"], r"^error: --pix-fmt: libx264 accepts yuv420p, .*, got 'rgb48be'$"),
        (["--crf", "20", "--format", "png"], r"^error: --crf: applies to video output only"),
    ])
    def test_bad_settings_one_line_exit_2_no_output(self, clip, tmp_path, capsys, monkeypatch, argv, pattern):
        def no_model(*_a, **_k):
            raise AssertionError("the model was loaded before the settings were checked")

        monkeypatch.setattr(up, "load_model", no_model)
        argv = list(argv)
        suffix = ".mp4"
        if "--out-suffix" in argv:
            i = argv.index("--out-suffix")
            suffix = argv[i + 1]
            del argv[i:i + 2]
        out = tmp_path / ("pngs" if "png" in argv else f"o{suffix}")
        rc = cli(["upscale", str(clip[0]), "--out", str(out), *argv, *BASE])
        err = capsys.readouterr().err.strip()
        assert rc == 2, err
        assert len(err.splitlines()) == 1 and re.search(pattern, err), err
        assert not out.exists() and _leftovers(tmp_path) == []

    def test_non_integer_crf_is_a_usage_error(self, clip, capsys):
        with pytest.raises(SystemExit) as exc:
            cli(["upscale", str(clip[0]), "--crf", "high", *BASE])
        assert exc.value.code == 2
        assert "argument --crf: invalid int value: 'high'" in capsys.readouterr().err

    def test_check_encoder_names_the_argument(self):
        with pytest.raises(EncoderOptionError) as exc:
            check_encoder("libx265", crf=60)
        assert (exc.value.argument, str(exc.value)) == ("crf", "crf: libx265 accepts 0..51, got 60")
        with pytest.raises(EncoderOptionError, match="^crf: expected an integer, got 18.5$"):
            check_encoder("libx264", crf=18.5)
        check_encoder("libx264", crf=0, preset="placebo", pix_fmt="yuv444p", path="a.mkv")  # all valid


class TestDefaultOutput:
    def test_beside_the_input(self, tmp_path, capsys):
        src = tmp_path / "holiday.mp4"
        make_clip(str(src), frames=3, fps=10, size=16)
        assert cli(["upscale", str(src), *BASE]) == 0
        assert (tmp_path / "holiday_stvsr.mp4").is_file()
        assert "wrote " + str(tmp_path / "holiday_stvsr.mp4") in capsys.readouterr().out
        assert cli(["upscale", str(src), *BASE]) == 2  # exists: no silent overwrite
        assert "--out: " in capsys.readouterr().err

    def test_names(self, tmp_path):
        (tmp_path / "frames").mkdir()
        assert up.default_output(tmp_path / "a.MOV") == tmp_path / "a_stvsr.mov"
        assert up.default_output(tmp_path / "a.ts") == tmp_path / "a_stvsr.mp4"
        assert up.default_output(tmp_path / "frames") == tmp_path / "frames_stvsr"
        assert up.default_output(tmp_path / "a.mp4", "png") == tmp_path / "a_stvsr"
