"""fit(): a user-defined model (examples/custom_model.py) trains, stops, resumes bit-exactly, logs its own terms."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stvsr_blocks.recipe.checkpoint import latest_checkpoint, load_checkpoint
from stvsr_blocks.recipe.config import LogSection, TrainSection
from stvsr_blocks.recipe.fit import fit, validate
from tests.recipe._kill import sigkill_when_written

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "custom_model.py"


def _example():
    spec = importlib.util.spec_from_file_location("example_custom_model_fit", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ex = _example()


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> object:
    n = torch.get_num_threads()  # bit-exact comparisons need the same thread count in every run
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _settings(steps: int = 6, **kw) -> dict:
    return dict(train=TrainSection(steps=steps, batch_size=2, lr=1e-3, device="cpu", seed=0, **kw),
                log=LogSection(every=1, val_every=3, ckpt_every=3, keep_last=2, tensorboard=False, curves=False))


def _run(out: Path, steps: int = 6, resume: str | None = None, **kw):
    data, val = ex.build_data(size=32, n_clips=4)
    return fit(ex.build_model(0), ex.MBnetLoss(), data, val_data=val, out_dir=out, resume=resume,
               name="custom", metadata={"who": "test"}, progress=False, **_settings(steps, **kw))


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory):
    return _run(tmp_path_factory.mktemp("full"))


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as fh:
        r = csv.DictReader(fh)
        return list(r.fieldnames or []), list(r)


def test_custom_model_run_writes_checkpoints_and_final(full) -> None:
    assert full.step == 6 and full.checkpoint.name == "step_00000006"
    ck = load_checkpoint(full.checkpoint)
    meta = json.loads((full.checkpoint / "config.json").read_text())
    assert "config" not in meta  # a custom model has no MBnetConfig: the state dict and the metadata only
    assert meta["extra"] == {"run": "custom", "step": 6, "who": "test"} and ck.state["metadata"] == {"who": "test"}
    model = ex.load_trained(full.checkpoint)  # the user's own builder + the saved state dict
    assert all(torch.equal(v, ck.weights[k]) for k, v in model.state_dict().items())
    final = json.loads((full.final_dir / "config.json").read_text())
    assert final == {"format": "stvsr_blocks/1", "extra": {"run": "custom", "step": 6, "who": "test"}}
    assert (full.final_dir / "model.safetensors").is_file()
    cols, rows = _rows(full.out_dir / "log.csv")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [bool(r["val_psnr"]) for r in rows] == [False, False, True, False, False, True]
    assert not (full.out_dir / "config.yaml").exists()  # no config given


def test_stopped_custom_run_resumes_bit_identical(full, tmp_path: Path) -> None:
    half = _run(tmp_path, stop_after=3)
    assert half.step == 3 and half.final_dir is None
    resumed = _run(tmp_path, resume="auto")
    assert resumed.step == 6
    want, got = load_checkpoint(full.checkpoint), load_checkpoint(resumed.checkpoint)
    assert want.weights.keys() == got.weights.keys()
    for k in want.weights:
        assert torch.equal(want.weights[k], got.weights[k]), f"{k} differs after stop + resume"
    for i, s in want.state["optimizer"]["state"].items():
        assert torch.equal(s["exp_avg"], got.state["optimizer"]["state"][i]["exp_avg"])
    assert [r["loss"] for r in _rows(tmp_path / "log.csv")[1]] == [r["loss"] for r in _rows(full.out_dir / "log.csv")[1]]


def test_a_loss_returning_a_mapping_logs_its_own_terms(tmp_path: Path) -> None:
    base = ex.MBnetLoss()

    def loss(output, hr, lr, *, flows=None, flow_mask=None):
        terms = base(output, hr, lr)
        edge = (output.frames[1] - hr[:, 1]).abs().amax()
        return {"total": terms.total + 0.0 * edge, "reconstruction": terms.reconstruction, "edge_max": edge}

    data, _ = ex.build_data(size=32, n_clips=4)
    res = fit(ex.build_model(0), loss, data, out_dir=tmp_path, progress=False, **_settings(2))
    cols, rows = _rows(tmp_path / "log.csv")
    assert cols == ["step", "epoch", "lr", "loss", "reconstruction", "edge_max", "grad_norm", "samples_per_s",
                    "val_psnr", "val_psnr_mid", "elapsed_s"]
    assert float(rows[-1]["edge_max"]) == pytest.approx(res.history[-1]["edge_max"]) and res.history[-1]["edge_max"] > 0


def test_bad_parts_are_named(tmp_path: Path) -> None:
    data, _ = ex.build_data(size=32, n_clips=4)
    with pytest.raises(TypeError, match="model: expected a Module"):
        fit("model", ex.MBnetLoss(), data, out_dir=tmp_path)
    with pytest.raises(TypeError, match="train: expected a TrainSection"):
        fit(ex.build_model(), ex.MBnetLoss(), data, out_dir=tmp_path, train={"steps": 3})
    with pytest.raises(TypeError, match="'total'"):
        fit(ex.build_model(), lambda *a, **k: {"x": torch.zeros(())}, data, out_dir=tmp_path / "b", progress=False,
            **_settings(1))


def test_validate_keeps_its_numbers() -> None:
    """validate() scores as the recipe always did: RGB, pred clamped, unrounded, float32, capped at 100 dB."""
    class Fixed(torch.nn.Module):
        def __init__(self, frames):
            super().__init__()
            self.frames = frames

        def forward(self, lr0, lr1, t=None):
            return type("Out", (), {"frames": self.frames})()

    g = torch.Generator().manual_seed(0)
    hr = torch.rand(1, 3, 3, 8, 8, generator=g)
    pred = [hr[:, 0] + 0.1, hr[:, 1].clone(), (hr[:, 2] + 0.05 * torch.randn(1, 3, 8, 8, generator=g))]
    lr = torch.rand(1, 2, 3, 2, 2)
    got = validate(Fixed(pred), [(lr, hr)], device=torch.device("cpu"))

    def old(p, t):  # the formula of the former public stvsr_blocks.recipe.train.psnr
        mse = (p.float().clamp(0, 1) - t.float()).pow(2).flatten(1).mean(1)
        return (10 * torch.log10(1.0 / mse.clamp_min(1e-10))).clamp_max(100.0)

    want = old(torch.stack(pred, 1).flatten(0, 1), hr.flatten(0, 1))
    assert got == {"val_psnr": float(want.mean()), "val_psnr_mid": float(want[1])}
    assert got["val_psnr_mid"] == 100.0  # identical middle frame: the cap


def test_train_psnr_is_deprecated() -> None:
    import stvsr_blocks.recipe.train as tr

    with pytest.warns(DeprecationWarning, match="metrics.psnr"):
        f = tr.psnr
    assert round(f(torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1)).item(), 2) == 20.0


@pytest.mark.slow
def test_sigkilled_custom_run_resumes_bit_identical(tmp_path: Path) -> None:
    """The example script, killed by SIGKILL after its first checkpoint and resumed, matches an uninterrupted run."""
    ref = ex.main(steps=9, out=tmp_path / "ref")
    assert ref["step"] == 9
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = tmp_path / "killed"
    cmd = [sys.executable, str(EXAMPLE), "--steps", "9", "--out", str(run)]
    sigkill_when_written(cmd, run / "checkpoints" / "step_00000003" / "state.pt", env=env, cwd=ROOT, what="the example", poll_s=0.02)
    resumed = subprocess.run([*cmd, "--resume", "auto"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    want = load_checkpoint(latest_checkpoint(tmp_path / "ref"))
    got = load_checkpoint(latest_checkpoint(run))
    assert got.step == want.step == 9
    for k in want.weights:
        assert torch.equal(want.weights[k], got.weights[k]), f"{k} differs after SIGKILL + resume"
