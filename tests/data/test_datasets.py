"""Tests of stvsr_blocks.data.datasets (readers) and stvsr_blocks.data.io (image helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from stvsr_blocks.data.datasets import (
    Clip,
    FrameFolder,
    MiddleburyOther,
    UCF101Triplets,
    Vid4,
    VideoFile,
    VimeoSeptuplet,
    VimeoTriplet,
    open_dataset,
)
from stvsr_blocks.data.io import (
    image_size,
    list_images,
    natural_key,
    read_image,
    read_images,
    write_frame_folder,
    write_image,
)
from tests.data.test_layouts import (
    make_frames,
    make_middlebury,
    make_ucf101,
    make_vid4,
    make_video,
    make_vimeo,
    value,
)


def frame_values(x: torch.Tensor) -> list[float]:
    """Per-frame mean of a constant-frame clip, in 8-bit units."""
    return [round(v * 255) for v in x.mean(dim=(1, 2, 3)).tolist()]


def expected(clip: int, n: int) -> list[int]:
    return [round(value(clip, i) * 255) for i in range(n)]


class TestClip:
    def test_valid(self) -> None:
        c = Clip("x", torch.zeros(3, 3, 8, 8), torch.zeros(3, 3, 2, 2), ["a", "b", "c"], "vid4")
        assert c.frame_names == ("a", "b", "c") and c.num_frames == 3
        assert Clip("y", None, torch.zeros(2, 3, 4, 4)).num_frames == 2

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match="neither"):
            Clip("x", None)
        with pytest.raises(ValueError, match=r"hr: expected a 4-D tensor"):
            Clip("x", torch.zeros(3, 8, 8))
        with pytest.raises(ValueError, match=r"lr: expected a 4-D tensor"):
            Clip("x", None, torch.zeros(2, 1, 8, 8))
        with pytest.raises(TypeError, match="hr"):
            Clip("x", torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
        with pytest.raises(ValueError, match="frame_names"):
            Clip("x", torch.zeros(2, 3, 8, 8), frame_names=("a",))


class TestReaders:
    def test_vimeo_septuplet(self, tmp_path: Path) -> None:
        make_vimeo(tmp_path)
        ds = VimeoSeptuplet(tmp_path, "train")
        assert len(ds) == 2 and ds.clip_names == ["00001/0001", "00001/0002"]
        clip = ds[1]
        assert clip.name == "00001/0002" and clip.dataset == "vimeo-septuplet"
        assert clip.hr is not None and clip.hr.shape == (7, 3, 16, 16) and clip.lr is None
        assert clip.frame_names == tuple(f"im{i}.png" for i in range(1, 8))
        assert frame_values(clip.hr) == expected(1, 7)
        test = VimeoSeptuplet(tmp_path, "test")
        assert frame_values(test[-1].hr) == expected(2, 7)
        assert "clips=1" in repr(test) and "split='test'" in repr(test)

    def test_vimeo_triplet(self, tmp_path: Path) -> None:
        make_vimeo(tmp_path, n=3, prefix="tri")
        clip = open_dataset("vimeo-triplet", tmp_path, split="test")[0]
        assert isinstance(clip, Clip) and clip.hr.shape == (3, 3, 16, 16)
        assert frame_values(clip.hr) == expected(2, 3)

    @pytest.mark.parametrize(("hr", "lr"), [("GT", "BIx4"), ("HR", "LR")])
    def test_vid4(self, tmp_path: Path, hr: str, lr: str) -> None:
        make_vid4(tmp_path, hr, lr)
        ds = open_dataset("vid4", tmp_path)
        assert isinstance(ds, Vid4) and ds.clip_names == ["calendar", "city"]
        clip = ds[1]
        assert clip.hr.shape == (3, 3, 16, 16) and clip.lr is not None and clip.lr.shape == (3, 3, 4, 4)
        assert frame_values(clip.hr) == expected(1, 3) == frame_values(clip.lr)
        assert clip.frame_names == ("00000000.png", "00000001.png", "00000002.png")

    def test_vid4_options(self, tmp_path: Path) -> None:
        make_vid4(tmp_path, lr_name="")
        ds = Vid4(tmp_path, clips=["city"], max_frames=2)
        assert ds.clip_names == ["city"]
        clip = ds[0]
        assert clip.lr is None and clip.hr.shape[0] == 2 and len(clip.frame_names) == 2
        with pytest.raises(ValueError, match=r"\['walk'\] not found"):
            Vid4(tmp_path, clips=["walk"])

    def test_ucf101_order(self, tmp_path: Path) -> None:
        make_ucf101(tmp_path)
        ds = UCF101Triplets(tmp_path)
        assert ds.clip_names == ["1", "2", "10"]  # natural order
        clip = ds[2]
        assert clip.frame_names == ("frame_00.png", "frame_01_gt.png", "frame_02.png")
        assert frame_values(clip.hr) == expected(2, 3)

    def test_middlebury_order(self, tmp_path: Path) -> None:
        make_middlebury(tmp_path)
        ds = open_dataset("middlebury", tmp_path)
        assert isinstance(ds, MiddleburyOther) and ds.clip_names == ["Beanbags", "Dimetrodon"]
        clip = ds[1]
        assert clip.frame_names == ("frame10.png", "frame10i11.png", "frame11.png")
        assert frame_values(clip.hr) == expected(1, 3)

    def test_frames_natural_order(self, tmp_path: Path) -> None:
        make_frames(tmp_path, ("frame10.png", "frame2.png", "frame1.png"))
        (tmp_path / "notes.txt").write_text("not an image")
        ds = open_dataset("frames", tmp_path)
        clip = ds[0]
        assert clip.frame_names == ("frame1.png", "frame2.png", "frame10.png")
        assert frame_values(clip.hr) == [round(value(0, i) * 255) for i in (1, 2, 10)]

    def test_frames_nested_and_lr_role(self, tmp_path: Path) -> None:
        make_frames(tmp_path / "b", ("frame1.png", "frame2.png"))
        make_frames(tmp_path / "a", ("frame3.png",))
        ds = FrameFolder(tmp_path, role="lr", max_frames=1)
        assert ds.clip_names == ["a", "b"]
        clip = ds[1]
        assert clip.hr is None and clip.lr is not None and clip.lr.shape == (1, 3, 16, 16)

    def test_video(self, tmp_path: Path) -> None:
        path = make_video(tmp_path / "v.mp4", frames=5)
        clip = open_dataset("video", path)[0]
        assert clip.name == "v" and clip.hr.shape == (5, 3, 32, 32)
        assert clip.frame_names[0] == "v.mp4#0"
        assert abs(clip.hr[4].mean().item() - 0.6) < 0.02
        lr = VideoFile(tmp_path, role="lr", max_frames=2)[0]
        assert lr.hr is None and lr.lr.shape == (2, 3, 32, 32)

    def test_dataloader(self, tmp_path: Path) -> None:
        make_ucf101(tmp_path)
        clips = list(DataLoader(UCF101Triplets(tmp_path), batch_size=None, num_workers=0))
        assert [c.name for c in clips] == ["1", "2", "10"]

    def test_lazy(self, tmp_path: Path) -> None:
        make_ucf101(tmp_path)
        ds = UCF101Triplets(tmp_path)
        (tmp_path / "2" / "frame_02.png").unlink()  # listing read no pixel; only __getitem__ notices
        assert ds[0].name == "1"
        with pytest.raises(FileNotFoundError, match=r"frame_02.png.*clip '2'.*stvsr_blocks.data.check"):
            ds[1]

    def test_exception(self, tmp_path: Path) -> None:
        make_ucf101(tmp_path)
        ds = UCF101Triplets(tmp_path)
        with pytest.raises(IndexError, match="out of range"):
            ds[3]
        with pytest.raises(IndexError, match="out of range"):
            ds[-4]
        write_image(tmp_path / "1" / "frame_02.png", torch.zeros(3, 8, 16))
        with pytest.raises(ValueError, match="same size"):
            ds[0]
        (tmp_path / "2" / "frame_00.png").write_bytes(b"junk")
        with pytest.raises(ValueError, match="cannot decode"):
            ds[1]
        with pytest.raises(ValueError, match="role"):
            FrameFolder(tmp_path, role="both")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_frames"):
            FrameFolder(tmp_path, max_frames=0)
        with pytest.raises(FileNotFoundError, match="sequences"):
            VimeoTriplet(tmp_path, "test")

    def test_open_dataset_exception(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="layout"):
            open_dataset("reds", tmp_path)
        with pytest.raises(ValueError, match="split"):
            open_dataset("vimeo-septuplet", tmp_path)
        with pytest.raises(ValueError, match="no splits"):
            open_dataset("ucf101", tmp_path, split="test")


class TestIO:
    def test_natural_key(self) -> None:
        names = ["f10.png", "f2.png", "F1.png", "f2b.png", "a.png"]
        assert sorted(names, key=natural_key) == ["a.png", "F1.png", "f2.png", "f2b.png", "f10.png"]

    def test_round_trip(self, tmp_path: Path) -> None:
        x = torch.rand(3, 5, 7)
        back = read_image(write_image(tmp_path / "deep" / "x.png", x))
        assert back.shape == (3, 5, 7) and (back - x).abs().max() <= 0.5 / 255 + 1e-6
        grey = read_image(write_image(tmp_path / "g.png", torch.full((1, 4, 4), 0.5)))
        assert grey.shape == (3, 4, 4)
        assert image_size(tmp_path / "g.png") == (4, 4)
        assert image_size(tmp_path / "deep" / "x.png", decode=True) == (5, 7)

    def test_read_images_and_list(self, tmp_path: Path) -> None:
        paths = write_frame_folder(tmp_path, torch.rand(3, 3, 4, 4), pattern="im{}.png", start=9)
        assert [p.name for p in list_images(tmp_path)] == ["im9.png", "im10.png", "im11.png"]
        assert read_images(paths).shape == (3, 3, 4, 4)
        (tmp_path / ".hidden.png").write_bytes(b"")
        assert len(list_images(tmp_path)) == 3

    def test_exception(self, tmp_path: Path) -> None:
        with pytest.raises(NotADirectoryError, match="folder"):
            list_images(tmp_path / "nope")
        with pytest.raises(FileNotFoundError, match="not found"):
            read_image(tmp_path / "nope.png")
        with pytest.raises(FileNotFoundError, match="not found"):
            image_size(tmp_path / "nope.png")
        (tmp_path / "bad.png").write_bytes(b"junk")
        with pytest.raises(ValueError, match="cannot decode"):
            image_size(tmp_path / "bad.png")
        with pytest.raises(ValueError, match="at least one"):
            read_images([])
        with pytest.raises(ValueError, match=r"\(C, H, W\)"):
            write_image(tmp_path / "x.png", torch.zeros(2, 4, 4))
        with pytest.raises(TypeError, match="img"):
            write_image(tmp_path / "x.png", torch.zeros(3, 4, 4, dtype=torch.uint8))
        with pytest.raises(ValueError, match="pattern"):
            write_frame_folder(tmp_path, torch.zeros(1, 3, 4, 4), pattern="same.png")
