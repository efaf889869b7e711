"""Tests of the layout registry: every registered layout end to end, and a user layout added in one place.

``test_every_layout`` runs over the whole registry: a layout registered without a fixture here fails it.
``TestUserLayout`` registers a new layout with :func:`register_layout` and nothing else, then uses it through
``open_dataset``, the checker (function and command), ``eval`` and the training recipe's data builders: a call
site that still kept its own table of layout names would refuse it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

import stvsr_blocks.data.layouts as layouts_module
from stvsr_blocks.data.check import main as check_main
from stvsr_blocks.data.datasets import ClipDataset, open_dataset
from stvsr_blocks.data.io import write_image
from stvsr_blocks.data.layout import ClipSpec, Layout, ListingProblems
from stvsr_blocks.data.layouts import LAYOUTS, check_layout, get_layout, list_clips, register_layout
from stvsr_blocks.metrics import get_protocol
from tests.data.test_layouts import (
    BUILTIN,
    img,
    make_frames,
    make_middlebury,
    make_ucf101,
    make_vid4,
    make_video,
    make_vimeo,
    value,
)

ROOT = Path(__file__).resolve().parents[2]


def _unlink_first_frame(root: Path, layout: str, split: str | None) -> None:
    spec = list_clips(root, layout, split)[0]
    (spec.video or spec.hr[0]).unlink()


def _empty_frames(root: Path, layout: str, split: str | None) -> None:
    for f in root.iterdir():
        f.unlink()


def _empty_video(root: Path, layout: str, split: str | None) -> None:
    root.write_bytes(b"")


# name -> (make the tree under a path, split to open, number of clips, break the tree); None: rendered
TREES: dict[str, tuple[Callable[[Path], Path], str | None, int, Callable[[Path, str, str | None], None]] | None] = {
    "vimeo-septuplet": (lambda p: make_vimeo(p), "train", 2, _unlink_first_frame),
    "vimeo-triplet": (lambda p: make_vimeo(p, n=3, prefix="tri"), "test", 1, _unlink_first_frame),
    "vid4": (lambda p: make_vid4(p), None, 2, _unlink_first_frame),
    "ucf101": (lambda p: make_ucf101(p), None, 3, _unlink_first_frame),
    "middlebury": (lambda p: make_middlebury(p), None, 2, _unlink_first_frame),
    "frames": (lambda p: make_frames(p), None, 1, _empty_frames),
    "video": (lambda p: make_video(p.with_suffix(".mp4")), None, 1, _empty_video),
    "synthetic": None,
    "photos": None,
}


def test_builtin_names() -> None:
    assert set(BUILTIN) <= set(LAYOUTS) and set(TREES) == set(BUILTIN)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_layout(name: str, tmp_path: Path) -> None:
    assert name in TREES, f"layout {name!r} is registered but has no fixture in this test"
    lay = get_layout(name)
    assert lay.name == name and lay.description
    assert get_protocol(lay.protocol).name == lay.protocol
    tree = TREES[name]
    split = lay.eval_split
    if tree is None:  # rendered: no tree, clips from the reader
        assert not lay.on_disk and lay.exact_flow
        with pytest.raises(ValueError, match="renders its clips"):
            list_clips(tmp_path, name, split)
        with pytest.raises(ValueError, match="renders its clips"):
            check_layout(tmp_path, name)
        ds = open_dataset(name, None, split, n_clips=2, size=(32, 32), frames=3)
        assert len(ds) == 2
        clip = ds[1]
        assert clip.hr.shape == (3, 3, 32, 32) and clip.name and clip.lr is None
        if lay.val_split is not None:
            assert len(open_dataset(name, None, lay.val_split, n_clips=1, size=(32, 32), frames=3)) == 1
        return
    make, split, count, break_tree = tree
    root = make(tmp_path / "tree")
    assert lay.on_disk
    specs = list_clips(root, name, split)
    assert len(specs) == count and all(isinstance(s, ClipSpec) for s in specs)
    ds = open_dataset(name, root, split)
    assert isinstance(ds, ClipDataset) and len(ds) == count and ds.layout == name
    clip = ds[0]
    assert clip.dataset == name and clip.hr is not None and clip.hr.ndim == 4 and clip.hr.shape[1] == 3
    assert open_dataset(name, root, split, max_frames=1)[0].hr.shape[0] == 1
    assert check_layout(root, name, split, deep=True) == []
    with pytest.raises(ValueError, match="root"):
        open_dataset(name, None, split)
    assert check_layout(tmp_path / "missing", name, split) != []
    break_tree(root, name, split)
    problems = check_layout(root, name, split)
    assert problems and all(isinstance(p, str) for p in problems)


class TestRegistry:
    def test_did_you_mean(self) -> None:
        with pytest.raises(ValueError, match=r"layout: expected one of .*vid4.*got 'vid5' \(did you mean 'vid4'\?\)"):
            get_layout("vid5")
        with pytest.raises(ValueError, match=r"did you mean 'vimeo-septuplet'"):
            open_dataset("vimeo-septuplett", "/nowhere", "test")
        with pytest.raises(ValueError, match="layout: expected one of"):
            get_layout(3)

    def test_rendered_has_no_tree(self) -> None:
        with pytest.raises(ValueError, match=r"on-disk layouts .*got 'photos'.*renders its clips"):
            get_layout("photos", on_disk=True)
        assert get_layout("photos", on_disk=False).name == "photos"

    def test_register_checks(self) -> None:
        with pytest.raises(TypeError, match="Layout"):
            register_layout("vid4")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="already registered"):
            register_layout(get_layout("vid4"))
        assert register_layout(get_layout("vid4"), replace=True) is get_layout("vid4")
        with pytest.raises(TypeError):
            LAYOUTS["x"] = get_layout("vid4")  # type: ignore[index]  # read-only view

    def test_layout_validation(self) -> None:
        def lister(root: Path, splits: tuple[str, ...], problems: ListingProblems) -> list[ClipSpec]:
            return []

        with pytest.raises(ValueError, match="neither"):
            Layout("x", "d", protocol="stvsr-vid4")
        with pytest.raises(ValueError, match="eval_split"):
            Layout("x", "d", protocol="stvsr-vid4", list_clips=lister, splits=("a", "b"))
        with pytest.raises(ValueError, match="val_split: expected one of"):
            Layout("x", "d", protocol="stvsr-vid4", list_clips=lister, splits=("a",), eval_split="a", val_split="c")
        with pytest.raises(ValueError, match="name"):
            Layout("", "d", protocol="stvsr-vid4", list_clips=lister)
        lay = Layout("x", "d", protocol="stvsr-vid4", list_clips=lister, splits=("a", "b"), eval_split="b")
        assert lay.check_split("a") == ("a",) and lay.check_split(None, strict=False) == ("a", "b")
        with pytest.raises(ValueError, match=r"needs split='a' or 'b'"):
            lay.check_split(None)

    def test_flags_of_builtins(self) -> None:
        from stvsr_blocks.recipe.train import FOOTAGE_LAYOUTS

        assert {n for n in BUILTIN if get_layout(n).footage} == set(FOOTAGE_LAYOUTS)
        assert {n for n in BUILTIN if get_layout(n).exact_flow} == {"synthetic", "photos"}
        assert {n for n in BUILTIN if get_layout(n).splits} == {"vimeo-septuplet", "vimeo-triplet", "synthetic", "photos"}

    def test_synthetic_splits_are_seed_ranges(self) -> None:
        train = open_dataset("synthetic", None, "train", n_clips=1, size=(8, 8), frames=2)
        test = open_dataset("synthetic", None, "test", n_clips=1, size=(8, 8), frames=2)
        assert train[0].name == "synthetic-0000000" and test[0].name == "synthetic-1000000"
        assert open_dataset("synthetic", "/ignored", "train", n_clips=1, size=(8, 8), frames=2)[0].name == train[0].name

    def test_no_prefix_tests_left(self) -> None:
        hits = [p for p in (ROOT / "stvsr_blocks").rglob("*.py") if 'startswith("vimeo' in p.read_text()]
        assert hits == []


# ------------------------------------------------------------------------------------------ a user layout
def _list_pairs(root: Path, splits: tuple[str, ...], problems: ListingProblems) -> list[ClipSpec]:
    """``<clip>/first.png, mid.png, last.png`` clips, one folder each."""
    if not root.is_dir():
        problems.add(f"missing root folder: {root}")
        return []
    names = ("first.png", "mid.png", "last.png")
    return [ClipSpec(d.name, tuple(d / n for n in names), frame_names=names) for d in sorted(root.iterdir())]


def _make_pairs(root: Path, clips: int = 2, size: tuple[int, int] = (32, 32)) -> Path:
    for c in range(clips):
        for i, name in enumerate(("first.png", "mid.png", "last.png")):
            write_image(root / f"clip{c}" / name, img(value(c, i), size))
    return root


@pytest.fixture
def user_layout() -> Iterator[Layout]:
    lay = register_layout(Layout("my-triplets", "<clip>/first.png, mid.png, last.png", protocol="stvsr-vid4",
                                 list_clips=_list_pairs))
    yield lay
    layouts_module._REGISTRY.pop(lay.name)  # test cleanup only


class TestUserLayout:
    def test_open_dataset_and_checker(self, user_layout: Layout, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
        root = _make_pairs(tmp_path / "t")
        ds = open_dataset("my-triplets", root)
        assert isinstance(ds, ClipDataset) and ds.clip_names == ["clip0", "clip1"]
        clip = ds[1]
        assert clip.dataset == "my-triplets" and clip.frame_names == ("first.png", "mid.png", "last.png")
        assert [round(v * 255) for v in clip.hr.mean(dim=(1, 2, 3)).tolist()] == [round(value(1, i) * 255) for i in range(3)]
        assert check_layout(root, "my-triplets", deep=True) == []
        assert check_main([str(root), "--layout", "my-triplets"]) == 0
        (root / "clip0" / "mid.png").unlink()
        assert check_layout(root, "my-triplets") == [f"missing frame file: {root / 'clip0' / 'mid.png'} (clip 'clip0')"]
        assert check_main([str(root), "--layout", "my-triplets"]) == 1
        assert "1 problem(s); 1 of 2 clips OK" in capsys.readouterr().out
        with pytest.raises(FileNotFoundError, match=r"mid.png.*--layout my-triplets"):
            ds[0]
        with pytest.raises(FileNotFoundError, match="missing root folder"):
            open_dataset("my-triplets", tmp_path / "nope")
        with pytest.raises(ValueError, match="no splits"):
            open_dataset("my-triplets", root, "test")

    def test_eval_and_train_accept_it(self, user_layout: Layout, tmp_path: Path) -> None:
        from stvsr_blocks.recipe import evaluate
        from stvsr_blocks.recipe.config import TrainRunConfig, load_config
        from stvsr_blocks.recipe.train import build_train_dataset, build_validation_clips

        root = _make_pairs(tmp_path / "t")
        assert "my-triplets" in evaluate.DATASET_LAYOUTS
        assert evaluate.DEFAULT_PROTOCOL["my-triplets"] == "stvsr-vid4"
        n, clips = evaluate.iter_clips("my-triplets", root, max_frames=2)
        got = list(clips)
        assert n == 2 and [c.name for c in got] == ["clip0", "clip1"] and got[0].hr.shape == (2, 3, 32, 32)
        with pytest.raises(evaluate.UserError, match="--root"):
            evaluate.iter_clips("my-triplets")
        with pytest.raises(evaluate.UserError, match="did you mean 'my-triplets'"):
            evaluate.iter_clips("my-triplet", root)

        cfg = load_config(TrainRunConfig, None, ["data.layout=my-triplets", f"data.root={root}", "data.lr_patch=4",
                                                 "data.val_crop=16"])
        ds = build_train_dataset(cfg)
        assert len(ds) == 2
        sample = ds[0]
        assert sample.hr.shape == (3, 3, 16, 16) and sample.lr.shape == (2, 3, 4, 4)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert build_validation_clips(cfg) == []  # no held-out split: validation disabled, with a warning
        assert any("no validation data for layout 'my-triplets'" in str(x.message) for x in w)
        val = build_validation_clips(load_config(TrainRunConfig, None, [
            "data.layout=synthetic", "data.val_layout=my-triplets", f"data.val_root={root}", "data.val_crop=16"]))
        assert len(val) == 2 and val[0][1].shape == (1, 3, 3, 16, 16)

    def test_footage_flag_is_read(self, tmp_path: Path) -> None:
        from stvsr_blocks.recipe.config import TrainRunConfig, load_config
        from stvsr_blocks.recipe.train import build_train_dataset, build_validation_clips

        def list_long(root: Path, splits: tuple[str, ...], problems: ListingProblems) -> list[ClipSpec]:
            frames = tuple(sorted(root.glob("*.png")))
            return [ClipSpec(root.name, frames, frame_names=tuple(f.name for f in frames))]

        lay = register_layout(Layout("my-footage", "one long clip of *.png", protocol="stvsr-vid4",
                                     list_clips=list_long, footage=True))
        try:
            root = tmp_path / "f"
            for i in range(10):
                write_image(root / f"{i:02d}.png", torch.full((3, 16, 16), i / 10))
            cfg = load_config(TrainRunConfig, None, [f"data.layout={lay.name}", f"data.root={root}",
                                                     "data.lr_patch=4", "data.holdout=0.3", "data.val_crop=16"])
            # 10 frames, last 3 held out: training windows over frames 0..6 (5 windows), validation over 7..9 (1)
            assert len(build_train_dataset(cfg)) == 5
            assert len(build_validation_clips(cfg)) == 1
        finally:
            layouts_module._REGISTRY.pop(lay.name)
