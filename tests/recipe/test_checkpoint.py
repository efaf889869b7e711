"""Atomic checkpoints: complete-or-absent writes, pruning, lookup, RNG round trips."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from stvsr_blocks.recipe import checkpoint as ck


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def _state(step: int) -> dict:
    m = _model()
    opt = torch.optim.Adam(m.parameters())
    m(torch.rand(2, 4)).sum().backward()
    opt.step()
    return {"optimizer": opt.state_dict(), "note": f"step {step}", "rng": [ck.capture_rng_state()]}


def test_round_trip(tmp_path: Path) -> None:
    m = _model()
    path = ck.save_checkpoint(tmp_path / "checkpoints", 7, model=m, state=_state(7), extra={"run": "x"})
    assert path.name == "step_00000007"
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors", "state.pt"]
    loaded = ck.load_checkpoint(path)
    assert loaded.step == 7 and loaded.state["note"] == "step 7" and loaded.model_config is None
    for k, v in m.state_dict().items():
        assert torch.equal(loaded.weights[k], v)
    opt = torch.optim.Adam(_model().parameters())
    opt.load_state_dict(loaded.state["optimizer"])  # weights_only load keeps a usable optimizer state
    assert ck.load_checkpoint(path / "state.pt").step == 7


def test_failure_mid_write_keeps_previous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "checkpoints"
    m = _model()
    good = ck.save_checkpoint(d, 2, model=m, state=_state(2))
    before = {p.name: p.read_bytes() for p in good.iterdir()}

    def boom(*args: object, **kwargs: object) -> None:  # the weights are written, the state write dies
        raise OSError("disk full")

    monkeypatch.setattr(ck.torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        ck.save_checkpoint(d, 4, model=_model(1), state=_state(4), keep_last=1)
    assert [p.name for p in d.iterdir()] == ["step_00000002"]  # no partial step_00000004, no temporary
    assert {p.name: p.read_bytes() for p in good.iterdir()} == before
    assert ck.latest_checkpoint(d) == good
    assert ck.load_checkpoint(good).step == 2


def test_killed_mid_write_leftovers_are_ignored(tmp_path: Path) -> None:
    d = tmp_path / "checkpoints"
    good = ck.save_checkpoint(d, 2, model=_model(), state=_state(2))
    # what a SIGKILL during a save leaves behind: a temporary folder with some of the files
    tmp = d / ".tmp-step_00000004-12345"
    tmp.mkdir()
    (tmp / "model.safetensors").write_bytes(b"partial")
    # and a step folder without its state file is not a checkpoint either
    (d / "step_00000006").mkdir()
    (d / "step_00000006" / "model.safetensors").write_bytes(b"x")
    assert ck.list_checkpoints(d) == [good]
    assert ck.resolve_checkpoint("auto", tmp_path) == good
    assert ck.remove_stale_temporaries(d) == 1
    assert not tmp.exists()


def test_keep_last(tmp_path: Path) -> None:
    d = tmp_path / "checkpoints"
    m = _model()
    for step in (1, 2, 3, 4):
        ck.save_checkpoint(d, step, model=m, state={}, keep_last=2)
    assert [p.name for p in ck.list_checkpoints(d)] == ["step_00000003", "step_00000004"]
    assert sorted(p.name for p in d.iterdir()) == ["step_00000003", "step_00000004"]
    ck.save_checkpoint(d, 5, model=m, state={}, keep_last=0)
    assert len(ck.list_checkpoints(d)) == 3


def test_resave_same_step(tmp_path: Path) -> None:
    d = tmp_path / "checkpoints"
    ck.save_checkpoint(d, 3, model=_model(0), state={"v": 1})
    ck.save_checkpoint(d, 3, model=_model(1), state={"v": 2})
    assert ck.load_checkpoint(d / "step_00000003").state["v"] == 2
    assert [p.name for p in d.iterdir()] == ["step_00000003"]


def test_weights_mismatch_detected(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    p = ck.save_checkpoint(tmp_path, 1, model=_model(), state={})
    save_file({k: v + 1 for k, v in _model().state_dict().items()}, str(p / "model.safetensors"))
    with pytest.raises(ValueError, match="SHA-256"):
        ck.load_checkpoint(p)
    assert ck.load_checkpoint(p, verify=False).step == 1


def test_resolve_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert ck.resolve_checkpoint("auto", run) is None
    a = ck.save_checkpoint(run / "checkpoints", 10, model=_model(), state={})
    b = ck.save_checkpoint(run / "checkpoints", 20, model=_model(), state={})
    assert ck.resolve_checkpoint("auto", run) == b
    assert ck.resolve_checkpoint(run) == b
    assert ck.resolve_checkpoint(run / "checkpoints") == b
    assert ck.resolve_checkpoint(a) == a
    assert ck.resolve_checkpoint(a / "model.safetensors") == a
    with pytest.raises(FileNotFoundError):
        ck.resolve_checkpoint(tmp_path / "nothing")
    with pytest.raises(ValueError):
        ck.resolve_checkpoint("auto")


def test_checkpoint_name() -> None:
    assert ck.checkpoint_name(0) == "step_00000000"
    for bad in (-1, 1.0, True):
        with pytest.raises(ValueError):
            ck.checkpoint_name(bad)  # type: ignore[arg-type]


def test_atomic_write_failure_keeps_old(tmp_path: Path) -> None:
    p = ck.atomic_write(tmp_path / "f.txt", lambda t: t.write_text("old"))

    def half(t: Path) -> None:
        t.write_text("ne")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        ck.atomic_write(p, half)
    assert p.read_text() == "old" and [x.name for x in tmp_path.iterdir()] == ["f.txt"]


def test_rng_round_trip(tmp_path: Path) -> None:
    state = ck.capture_rng_state()
    torch.save(state, tmp_path / "rng.pt")
    expect = (random.random(), float(np.random.rand()), torch.rand(3))
    random.random(), np.random.rand(), torch.rand(5)
    ck.restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    got = (random.random(), float(np.random.rand()), torch.rand(3))
    assert got[0] == expect[0] and got[1] == expect[1] and torch.equal(got[2], expect[2])


def test_unwrap_model() -> None:
    m = _model()
    assert ck.unwrap_model(m) is m
    assert ck.unwrap_model(nn.DataParallel(m)) is m


# ------------------------------------------------------------------ damaged checkpoints
def _damage(path: Path, how: str) -> None:
    """Truncate a file to half, or flip one byte in its middle."""
    data = bytearray(path.read_bytes())
    if how == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.mark.parametrize(("target", "how", "message"), [
    ("state.pt", "truncate", "state.pt' is truncated or corrupt"),
    ("state.pt", "flip", "state.pt'"),
    ("model.safetensors", "truncate", "model.safetensors' does not match the SHA-256"),
    ("model.safetensors", "flip", "model.safetensors' does not match the SHA-256"),
    ("config.json", "truncate", "config.json' is not valid JSON"),
])
def test_damaged_checkpoint_is_one_clear_error(tmp_path: Path, target: str, how: str, message: str) -> None:
    p = ck.save_checkpoint(tmp_path, 3, model=_model(), state=_state(3))
    ck.verify_checkpoint(p)  # intact
    _damage(p / target, how)
    for call in (ck.verify_checkpoint, ck.load_checkpoint, ck.resolve_checkpoint):
        with pytest.raises(ck.CheckpointError, match=message) as info:
            call(p)
        assert "\n" not in str(info.value)


def test_resume_auto_falls_back_to_newest_intact(tmp_path: Path) -> None:
    run = tmp_path / "run"
    d = run / "checkpoints"
    a = ck.save_checkpoint(d, 10, model=_model(), state=_state(10))
    b = ck.save_checkpoint(d, 20, model=_model(), state=_state(20))
    c = ck.save_checkpoint(d, 30, model=_model(), state=_state(30))
    _damage(c / "state.pt", "truncate")
    _damage(b / "model.safetensors", "truncate")
    with pytest.warns(UserWarning) as record:
        assert ck.resolve_checkpoint("auto", run) == a
    lines = [str(w.message) for w in record]
    assert "skipping damaged checkpoint step_00000030" in lines[0] and "state.pt" in lines[0]
    assert "skipping damaged checkpoint step_00000020" in lines[1] and "model.safetensors" in lines[1]
    assert "resuming from step_00000010" in lines[2] and "skipped step_00000030, step_00000020" in lines[2]
    with pytest.warns(UserWarning) as record:
        assert ck.resolve_checkpoint(run) == a  # a run folder given explicitly falls back the same way
    assert "skipping damaged checkpoint step_00000030" in str(record[0].message)
    _damage(a / "state.pt", "truncate")
    with pytest.warns(UserWarning), pytest.raises(ck.CheckpointError, match="all 3 checkpoints .* are damaged"):
        ck.resolve_checkpoint("auto", run)


def test_intact_resume_warns_nothing(tmp_path: Path) -> None:
    import warnings

    run = tmp_path / "run"
    b = ck.save_checkpoint(run / "checkpoints", 20, model=_model(), state=_state(20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ck.resolve_checkpoint("auto", run) == b
