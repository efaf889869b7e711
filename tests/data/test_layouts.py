"""Tests of stvsr_blocks.data.layouts and the checker CLI stvsr_blocks.data.check.

The ``make_*`` helpers build miniature trees in every published layout; tests/data/test_datasets.py reuses them.
Frame ``i`` of a clip is a constant image of value ``value(clip_index, i)`` so readers can assert ordering.
"""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path

import pytest
import torch

import stvsr_blocks.data.check as check_module
from stvsr_blocks.data.check import main
from stvsr_blocks.data.io import write_image
from stvsr_blocks.data.layouts import LAYOUTS, check_layout, inspect_layout, list_clips

#: The built-in layouts (tests may register more).
BUILTIN = ("vimeo-septuplet", "vimeo-triplet", "vid4", "ucf101", "middlebury", "frames", "video", "synthetic", "photos")


def value(clip: int, frame: int) -> float:
    """The constant (8-bit exact) value of frame ``frame`` of clip ``clip`` in the miniature trees."""
    return (10 + 20 * clip + 3 * frame) / 255.0


def img(v: float, size: tuple[int, int] = (16, 16)) -> torch.Tensor:
    return torch.full((3, *size), v)


def make_vimeo(root: Path, n: int = 7, prefix: str = "sep", size: tuple[int, int] = (16, 16)) -> Path:
    clips = {"train": ["00001/0001", "00001/0002"], "test": ["00002/0001"]}
    root.mkdir(parents=True, exist_ok=True)
    k = 0
    for split, entries in clips.items():
        (root / f"{prefix}_{split}list.txt").write_text("\n".join(entries) + "\n")
        for entry in entries:
            for i in range(n):
                write_image(root / "sequences" / entry / f"im{i + 1}.png", img(value(k, i), size))
            k += 1
    return root


def make_vid4(root: Path, hr_name: str = "GT", lr_name: str = "BIx4", frames: int = 3) -> Path:
    for c, clip in enumerate(["calendar", "city"]):
        for i in range(frames):
            write_image(root / hr_name / clip / f"{i:08d}.png", img(value(c, i), (16, 16)))
            if lr_name:
                write_image(root / lr_name / clip / f"{i:08d}.png", img(value(c, i), (4, 4)))
    return root


def make_ucf101(root: Path) -> Path:
    for c, clip in enumerate(["1", "2", "10"]):
        for i, name in enumerate(["frame_00.png", "frame_01_gt.png", "frame_02.png"]):
            write_image(root / clip / name, img(value(c, i)))
    return root


def make_middlebury(root: Path) -> Path:
    for c, seq in enumerate(["Beanbags", "Dimetrodon"]):
        write_image(root / "other-data" / seq / "frame10.png", img(value(c, 0)))
        write_image(root / "other-gt-interp" / seq / "frame10i11.png", img(value(c, 1)))
        write_image(root / "other-data" / seq / "frame11.png", img(value(c, 2)))
    # a sequence without ground truth (the Middlebury evaluation set) is not a clip
    write_image(root / "other-data" / "Backyard" / "frame10.png", img(0.5))
    return root


def make_frames(root: Path, names: tuple[str, ...] = ("frame10.png", "frame2.png", "frame1.png")) -> Path:
    for name in names:
        idx = int(name[5:-4])
        write_image(root / name, img(value(0, idx)))
    return root


def make_video(path: Path, frames: int = 5) -> Path:
    from stvsr_blocks.data.video import VideoWriter

    with VideoWriter(path, fps=25) as w:
        for i in range(frames):
            w.write(img(0.2 + 0.1 * i, (32, 32)))
    return path


class TestListClips:
    def test_vimeo(self, tmp_path: Path) -> None:
        make_vimeo(tmp_path)
        specs = list_clips(tmp_path, "vimeo-septuplet", "train")
        assert [s.name for s in specs] == ["00001/0001", "00001/0002"]
        assert specs[0].hr[3] == tmp_path / "sequences" / "00001" / "0001" / "im4.png"
        assert specs[0].frame_names == tuple(f"im{i}.png" for i in range(1, 8))
        assert specs[1].origin == "sep_trainlist.txt line 2"

    def test_vid4_pairs(self, tmp_path: Path) -> None:
        make_vid4(tmp_path, "HR", "LR")
        specs = list_clips(tmp_path, "vid4")
        assert [s.name for s in specs] == ["calendar", "city"]
        assert specs[0].lr is not None and specs[0].lr[2].parent == tmp_path / "LR" / "calendar"

    def test_exception(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="layout"):
            list_clips(tmp_path, "reds")
        with pytest.raises(ValueError, match="split"):
            list_clips(tmp_path, "vimeo-triplet")
        with pytest.raises(ValueError, match="split"):
            list_clips(tmp_path, "vimeo-triplet", "val")
        with pytest.raises(ValueError, match="no splits"):
            list_clips(tmp_path, "vid4", "test")
        with pytest.raises(FileNotFoundError, match="missing folder: .*sequences"):
            list_clips(tmp_path, "vimeo-triplet", "test")
        (tmp_path / "sequences").mkdir()
        with pytest.raises(FileNotFoundError, match="missing list file: .*tri_testlist.txt"):
            list_clips(tmp_path, "vimeo-triplet", "test")
        with pytest.raises(FileNotFoundError, match="missing root folder"):
            list_clips(tmp_path / "nope", "frames")
        with pytest.raises(FileNotFoundError, match="python -m stvsr_blocks.data.check"):
            list_clips(tmp_path, "vid4")
        (tmp_path / "a.txt").write_text("x")
        with pytest.raises(FileNotFoundError, match="not a folder"):
            list_clips(tmp_path / "a.txt", "ucf101")

    def test_malformed_and_duplicate_entries(self, tmp_path: Path) -> None:
        make_vimeo(tmp_path, n=3, prefix="tri")
        (tmp_path / "tri_testlist.txt").write_text("00002/0001\n00002\n")
        with pytest.raises(ValueError, match="malformed list entry '00002'"):
            list_clips(tmp_path, "vimeo-triplet", "test")
        (tmp_path / "tri_testlist.txt").write_text("00002/0001\n\n00002/0001/\n")
        with pytest.raises(ValueError, match="duplicate list entry '00002/0001'.*line 3"):
            list_clips(tmp_path, "vimeo-triplet", "test")

    def test_vid4_count_mismatch(self, tmp_path: Path) -> None:
        make_vid4(tmp_path)
        (tmp_path / "BIx4" / "city" / "00000002.png").unlink()
        with pytest.raises(ValueError, match="3 HR frames .* but 2 LR frames"):
            list_clips(tmp_path, "vid4")


class TestCheckLayout:
    @pytest.mark.parametrize("deep", [False, True])
    def test_ok_trees(self, tmp_path: Path, deep: bool) -> None:
        trees = {
            "vimeo-septuplet": make_vimeo(tmp_path / "sep"),
            "vimeo-triplet": make_vimeo(tmp_path / "tri", n=3, prefix="tri"),
            "vid4": make_vid4(tmp_path / "vid4"),
            "ucf101": make_ucf101(tmp_path / "ucf"),
            "middlebury": make_middlebury(tmp_path / "mb"),
            "frames": make_frames(tmp_path / "frames"),
            "video": make_video(tmp_path / "v.mp4"),
        }
        assert set(trees) == {name for name, lay in LAYOUTS.items() if lay.on_disk and name in BUILTIN}
        counts = {"vimeo-septuplet": 3, "vimeo-triplet": 3, "vid4": 2, "ucf101": 3, "middlebury": 2, "frames": 1}
        for layout, root in trees.items():
            report = inspect_layout(root, layout, deep=deep)
            assert report.ok, (layout, report.problems)
            assert report.num_clips == counts.get(layout, 1)
            assert report.summary().endswith(f"{report.num_clips} clips OK")

    def test_missing_frame_file(self, tmp_path: Path) -> None:
        make_vimeo(tmp_path)
        missing = tmp_path / "sequences" / "00001" / "0002" / "im4.png"
        missing.unlink()
        problems = check_layout(tmp_path, "vimeo-septuplet", "train")
        assert len(problems) == 1
        assert problems[0].startswith(f"missing frame file: {missing}")
        assert "00001/0002" in problems[0] and "sep_trainlist.txt line 2" in problems[0]
        assert check_layout(tmp_path, "vimeo-septuplet", "test") == []

    def test_missing_list_file_and_entry_folder(self, tmp_path: Path) -> None:
        make_vimeo(tmp_path, n=3, prefix="tri")
        (tmp_path / "tri_trainlist.txt").unlink()
        (tmp_path / "tri_testlist.txt").write_text("00002/0001\n00009/0009\n")
        problems = check_layout(tmp_path, "vimeo-triplet")
        assert f"missing list file: {tmp_path / 'tri_trainlist.txt'}" in problems
        assert any(
            p.startswith(f"missing folder: {tmp_path / 'sequences' / '00009' / '0009'}") and "line 2" in p
            for p in problems
        )
        assert len(problems) == 2  # one line for the missing folder, not one per frame

    def test_missing_sequences_folder(self, tmp_path: Path) -> None:
        (tmp_path / "sep_testlist.txt").write_text("")
        problems = check_layout(tmp_path, "vimeo-septuplet", "test")
        assert problems == [f"missing folder: {tmp_path / 'sequences'}"]

    def test_empty_folder(self, tmp_path: Path) -> None:
        make_vimeo(tmp_path)
        folder = tmp_path / "sequences" / "00002" / "0001"
        for f in folder.iterdir():
            f.unlink()
        problems = check_layout(tmp_path, "vimeo-septuplet", "test")
        assert len(problems) == 1 and problems[0].startswith(f"empty folder: {folder}")
        (tmp_path / "frames" / "a").mkdir(parents=True)
        make_frames(tmp_path / "frames" / "b")
        assert check_layout(tmp_path / "frames", "frames") == [
            f"empty folder: {tmp_path / 'frames' / 'a'} (no image files)"
        ]

    def test_unreadable_image_deep_only(self, tmp_path: Path) -> None:
        make_ucf101(tmp_path)
        bad = tmp_path / "2" / "frame_01_gt.png"
        bad.write_bytes(b"not a png")
        assert check_layout(tmp_path, "ucf101") == []
        problems = check_layout(tmp_path, "ucf101", deep=True)
        assert len(problems) == 1 and problems[0].startswith(f"unreadable image: {bad}")
        report = inspect_layout(tmp_path, "ucf101", deep=True)
        assert report.num_bad == 1 and "2 of 3 clips OK" in report.summary()

    def test_truncated_png_is_unreadable(self, tmp_path: Path) -> None:
        make_ucf101(tmp_path)
        bad = tmp_path / "1" / "frame_02.png"
        write_image(bad, torch.rand(3, 64, 64))
        bad.write_bytes(bad.read_bytes()[:200])
        assert any(p.startswith(f"unreadable image: {bad}") for p in check_layout(tmp_path, "ucf101", deep=True))

    def test_mismatched_size(self, tmp_path: Path) -> None:
        make_middlebury(tmp_path)
        write_image(tmp_path / "other-gt-interp" / "Dimetrodon" / "frame10i11.png", img(0.5, (16, 12)))
        problems = check_layout(tmp_path, "middlebury", deep=True)
        assert len(problems) == 1
        assert "mismatched size" in problems[0] and "frame10i11.png 16x12" in problems[0]
        assert "'Dimetrodon'" in problems[0]

    def test_lr_hr_scale(self, tmp_path: Path) -> None:
        make_vid4(tmp_path, "HR", "LR")
        for i in range(3):
            write_image(tmp_path / "LR" / "city" / f"{i:08d}.png", img(0.5, (8, 8)))
        problems = check_layout(tmp_path, "vid4", deep=True)
        assert len(problems) == 1 and "does not match scale 4" in problems[0] and "is 8x8" in problems[0]
        assert check_layout(tmp_path, "vid4", deep=True, scale=2) != []  # calendar is x4
        assert check_layout(tmp_path, "vid4") == []  # sizes are only read in deep mode

    def test_vid4_structure_problems(self, tmp_path: Path) -> None:
        assert check_layout(tmp_path, "vid4")[0].startswith("missing HR folder")
        make_vid4(tmp_path)
        (tmp_path / "GT" / "empty").mkdir()
        problems = check_layout(tmp_path, "vid4")
        assert problems == [f"empty folder: {tmp_path / 'GT' / 'empty'} (no image files)"]
        (tmp_path / "GT" / "empty").rmdir()
        make_frames(tmp_path / "GT" / "walk")
        assert check_layout(tmp_path, "vid4") == [f"missing LR folder for clip 'walk': {tmp_path / 'BIx4' / 'walk'}"]
        empty = tmp_path / "empty_vid4"
        (empty / "HR").mkdir(parents=True)
        assert check_layout(empty, "vid4")[0].startswith("empty folder")

    def test_vid4_without_lr_is_ok(self, tmp_path: Path) -> None:
        make_vid4(tmp_path, lr_name="")
        assert check_layout(tmp_path, "vid4", deep=True) == []
        assert list_clips(tmp_path, "vid4")[0].lr is None

    def test_middlebury_structure(self, tmp_path: Path) -> None:
        problems = check_layout(tmp_path, "middlebury")
        assert problems == [
            f"missing folder: {tmp_path / 'other-data'}",
            f"missing folder: {tmp_path / 'other-gt-interp'}",
        ]
        (tmp_path / "other-data").mkdir()
        (tmp_path / "other-gt-interp").mkdir()
        assert check_layout(tmp_path, "middlebury")[0].startswith("empty folder")
        write_image(tmp_path / "other-gt-interp" / "Venus" / "frame10i11.png", img(0.1))
        problems = check_layout(tmp_path, "middlebury")
        assert problems[0].startswith(f"missing folder: {tmp_path / 'other-data' / 'Venus'}")

    def test_ucf101_missing_gt(self, tmp_path: Path) -> None:
        make_ucf101(tmp_path)
        (tmp_path / "10" / "frame_01_gt.png").unlink()
        problems = check_layout(tmp_path, "ucf101")
        assert problems == [f"missing frame file: {tmp_path / '10' / 'frame_01_gt.png'} (clip '10')"]
        assert check_layout(tmp_path / "10", "ucf101")[0].startswith("empty folder")

    def test_frames_empty_root(self, tmp_path: Path) -> None:
        assert check_layout(tmp_path, "frames") == [f"empty folder: {tmp_path} (no image files and no sub-folders)"]

    def test_video_problems(self, tmp_path: Path) -> None:
        assert check_layout(tmp_path / "nope.mp4", "video") == [
            f"missing video file or folder: {tmp_path / 'nope.mp4'}"
        ]
        assert check_layout(tmp_path, "video")[0].startswith("empty folder")
        (tmp_path / "empty.mp4").write_bytes(b"")
        assert check_layout(tmp_path, "video") == [f"empty video file: {tmp_path / 'empty.mp4'}"]
        (tmp_path / "empty.mp4").write_bytes(b"garbage" * 100)
        assert check_layout(tmp_path, "video") == []
        assert check_layout(tmp_path, "video", deep=True)[0].startswith(f"unreadable video: {tmp_path / 'empty.mp4'}")

    def test_exception(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="layout"):
            check_layout(tmp_path, "vimeo")
        with pytest.raises(ValueError, match="split"):
            check_layout(tmp_path, "vimeo-septuplet", "val")
        with pytest.raises(TypeError, match="scale"):
            check_layout(tmp_path, "vid4", scale=4.0)  # type: ignore[arg-type]

    def test_many_clips_fast(self, tmp_path: Path) -> None:
        # the existence check lists each clip folder once and never opens an image
        seq = tmp_path / "sequences"
        entries = []
        for k in range(500):
            d = seq / f"{k // 1000:05d}" / f"{k % 1000:04d}"
            d.mkdir(parents=True)
            for i in range(1, 8):
                (d / f"im{i}.png").touch()
            entries.append(f"{k // 1000:05d}/{k % 1000:04d}")
        (tmp_path / "sep_testlist.txt").write_text("\n".join(entries))
        t0 = time.perf_counter()
        report = inspect_layout(tmp_path, "vimeo-septuplet", "test")
        elapsed = time.perf_counter() - t0
        assert report.ok and report.num_clips == 500
        assert elapsed < 2.0  # ~20 ms here; empty files would all be "unreadable" if images were opened


class TestCLI:
    def test_ok(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        make_vimeo(tmp_path)
        assert main([str(tmp_path), "--layout", "vimeo-septuplet", "--split", "test", "--deep"]) == 0
        out = capsys.readouterr().out.strip().splitlines()
        assert out == [f"vimeo-septuplet at {tmp_path} (split test, decoded): 1 clips OK"]

    def test_problems(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        make_vimeo(tmp_path)
        for i in (2, 4, 6):
            (tmp_path / "sequences" / "00001" / "0001" / f"im{i}.png").unlink()
        assert main([str(tmp_path), "--layout", "vimeo-septuplet", "--limit", "2"]) == 1
        out = capsys.readouterr().out.strip().splitlines()
        assert out[0].startswith(f"missing frame file: {tmp_path / 'sequences' / '00001' / '0001' / 'im2.png'}")
        assert out[2] == "... and 1 more (use --limit 0 to list all)"
        assert out[3].endswith("3 problem(s); 2 of 3 clips OK")
        assert main([str(tmp_path), "--layout", "vimeo-septuplet", "--limit", "0"]) == 1
        assert len(capsys.readouterr().out.strip().splitlines()) == 4

    def test_bad_arguments(self, tmp_path: Path) -> None:
        with pytest.raises(SystemExit) as exc:
            main([str(tmp_path), "--layout", "reds"])
        assert exc.value.code == 2

    def test_module_entry_point(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # `python -m stvsr_blocks.data.check ...` run in-process (a subprocess would re-import torch)
        make_ucf101(tmp_path)
        (tmp_path / "1" / "frame_00.png").unlink()
        monkeypatch.setattr(sys, "argv", ["check", str(tmp_path), "--layout", "ucf101"])
        with pytest.raises(SystemExit) as exc:
            runpy.run_path(check_module.__file__, run_name="__main__")
        assert exc.value.code == 1
        assert f"missing frame file: {tmp_path / '1' / 'frame_00.png'}" in capsys.readouterr().out
