"""The GPU-device training entry (issue 21): PyAV/kornia-free import path, wall-clock budget, run record."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Simulate the device machine: PyAV and kornia are not installed there (a None entry in sys.modules makes
# any `import av` / `import kornia` raise ImportError).
_BLOCK = "import sys; sys.modules['av'] = None; sys.modules['kornia'] = None\n"


def _run_blocked(code: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", _BLOCK + textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_blocked_import_really_fails():
    # The simulation itself must bite: importing the video module needs PyAV.
    res = _run_blocked("import stvsr_blocks.data.video\n")
    assert res.returncode != 0 and "av" in res.stderr


def test_data_package_reexports_stay_lazy():
    res = _run_blocked("""
        import stvsr_blocks.data as d
        assert 'VideoWriter' in d.__all__ and 'VideoWriter' in dir(d)
        from stvsr_blocks.data import STVSRTrainDataset, make_stvsr_pair, LAYOUTS
        try:
            d.VideoWriter
        except ImportError:
            print('lazy-ok')
    """)
    assert res.returncode == 0, res.stderr
    assert "lazy-ok" in res.stdout


def test_training_path_runs_without_pyav_and_kornia(tmp_path):
    res = _run_blocked(f"""
        import torch
        torch.set_num_threads(1)
        from stvsr_blocks.recipe.config import TrainRunConfig, load_config
        from stvsr_blocks.recipe.train import train
        from stvsr_blocks.configs import resolve_config_path
        cfg = load_config(TrainRunConfig, resolve_config_path('mbnet_photo'), [
            'train.steps=2', 'train.batch_size=2', 'train.warmup_steps=0', 'data.lr_patch=8',
            'data.photos.height=40', 'data.photos.width=40', 'data.num_workers=0', 'data.val_clips=1',
            'data.val_crop=32', 'log.every=1', 'log.val_every=2', 'log.ckpt_every=2', 'log.curves=false'])
        r = train(cfg, out_dir={str(tmp_path / 'run')!r}, progress=False)
        assert r.step == 2 and r.final_dir is not None, r
        assert sys.modules.get('av') is None and sys.modules.get('kornia') is None
        print('trained', r.step)
    """)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "trained 2" in res.stdout


def test_data_package_reexports_resolve():
    import stvsr_blocks.data as d
    from stvsr_blocks.data import VideoWriter
    from stvsr_blocks.data.video import VideoWriter as direct

    assert VideoWriter is direct
    for name in d.__all__:
        assert getattr(d, name) is not None
    try:
        d.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_lazy_table_matches_all():
    import stvsr_blocks.data as d

    assert sorted(d._LAZY) == sorted(d.__all__)


# ----------------------------------------------------------------------------- wall-clock budget (train.py)
TINY = ROOT / "recipes" / "configs" / "tiny.yaml"
SMALL = ["data.lr_patch=8", "data.synthetic.height=32", "data.synthetic.width=32", "data.val_crop=32",
         "log.curves=false"]


def _tiny(*overrides: str):
    from stvsr_blocks.recipe.config import TrainRunConfig, load_config

    return load_config(TrainRunConfig, TINY, [*SMALL, *overrides])


def test_budget_config_validation():
    import pytest

    from stvsr_blocks.recipe.config import ConfigError

    with pytest.raises(ConfigError, match="budget_s"):
        _tiny("train.budget_s=0")
    with pytest.raises(ConfigError, match="schedule_by_time.*budget_s"):
        _tiny("train.schedule_by_time=true")
    with pytest.raises(ConfigError, match="multistep"):
        _tiny("train.schedule_by_time=true", "train.budget_s=5", "train.scheduler=multistep")


def test_lr_lambda_by_time():
    from stvsr_blocks.recipe.train import lr_lambda

    cfg = _tiny("train.scheduler=cosine", "train.steps=1000", "train.min_lr=1e-5", "train.budget_s=10",
                "train.schedule_by_time=true")
    assert lr_lambda(999, cfg, time_fraction=0.0) == 1.0  # by time, the step count does not matter
    assert abs(lr_lambda(3, cfg, time_fraction=0.5) - (0.01 + 0.99 * 0.5)) < 1e-9
    assert abs(lr_lambda(3, cfg, time_fraction=1.0) - 0.01) < 1e-9
    assert abs(lr_lambda(500, cfg) - (0.01 + 0.99 * 0.5)) < 1e-3  # by steps without a fraction


def test_budget_stops_cleanly(tmp_path):
    import csv

    import torch

    from stvsr_blocks.recipe.checkpoint import latest_checkpoint
    from stvsr_blocks.recipe.train import train

    torch.set_num_threads(1)
    cfg = _tiny("train.steps=100000", "train.budget_s=1.5", "train.scheduler=cosine", "train.min_lr=1e-5",
                "train.schedule_by_time=true", "log.every=1000", "log.val_every=1000", "log.ckpt_every=1000")
    r = train(cfg, out_dir=tmp_path / "run", progress=False)
    assert 0 < r.step < 100000
    assert r.final_dir is not None and (r.final_dir / "model.safetensors").is_file()
    ck = latest_checkpoint(tmp_path / "run")
    assert ck is not None and ck.name.endswith(f"{r.step:08d}")
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    last = rows[-1]
    assert int(last["step"]) == r.step and last["val_psnr"] != ""
    assert float(last["elapsed_s"]) >= 1.5
    assert abs(float(last["lr"]) - 1e-5) < 1e-6  # the cosine reached min_lr as the budget ended
    # Resuming a run whose budget is spent trains no further step and keeps final/.
    r2 = train(cfg, out_dir=tmp_path / "run", resume="auto", progress=False)
    assert r2.step == r.step and r2.final_dir is not None


# ----------------------------------------------------------------------------- the device entry (dry runs)
# Tiny sizes: the shipped GPU config's structure on 8x8 LR patches of 40x40 photo frames, CPU, no AMP.
TINY_ARGS = ["--set", "train.batch_size=2", "--set", "train.warmup_steps=2", "--set", "data.lr_patch=8",
             "--set", "data.photos.height=40", "--set", "data.photos.width=40", "--set", "data.num_workers=1",
             "--set", "data.val_clips=1", "--set", "data.val_crop=32", "--set", "log.every=5",
             "--eval-clips", "1", "--eval-size", "32x32", "--eval-frames", "3", "--speed-size", "16x16",
             "--speed-reps", "1", "--no-progress"]


def _check_run_folder(folder: Path, budget: float) -> dict:
    import json

    from stvsr_blocks.models import load_pretrained
    from stvsr_blocks.recipe.device import RUN_FIELDS, RUN_FILES

    assert sorted(p.name for p in folder.iterdir()) == sorted(RUN_FILES)
    doc = json.loads((folder / "run.json").read_text())
    missing = [k for k in RUN_FIELDS if k not in doc]
    assert not missing, missing
    assert doc["steps"] > 0 and doc["samples"] == doc["steps"] * doc["batch_size"]
    assert doc["samples_per_s"] > 0 and 0 <= doc["data_wait_share"] <= 1
    assert doc["loop_s"] >= budget  # the budget, not train.steps, ended the run
    assert doc["config"]["train"]["budget_s"] == budget and doc["config"]["train"]["schedule_by_time"]
    assert doc["log"][-1]["step"] == doc["steps"] and "val_psnr" in doc["log"][-1]
    assert abs(doc["log"][-1]["lr"] - doc["config"]["train"]["min_lr"]) < 1e-4  # cosine ran over the budget
    ev = doc["evaluation"]["psnr_y"]
    assert {"trained", "bicubic-blend", "bicubic-flow"} <= set(ev)
    assert all(v["vsr"] > 10 and v["vfi"] > 10 for v in ev.values())
    assert doc["speed"]["ms_per_pair_fp32"] > 0 and len(doc["source_sha256"]) == 64
    model = load_pretrained(folder)  # the folder is a load_pretrained folder
    assert model.config.name == doc["config"]["model"]["overrides"]["name"]
    return doc


def test_device_entry_dry_run_without_pyav(tmp_path):
    out = tmp_path / "run_a"
    res = _run_blocked(f"""
        import torch
        torch.set_num_threads(1)
        from stvsr_blocks.recipe.device import main
        rc = main(['--config', 'mbnet_photo_gpu', '--budget-s', '2', '--device', 'cpu', '--out', {str(out)!r},
                   '--work-dir', {str(tmp_path / 'work')!r}, *{TINY_ARGS!r}])
        assert sys.modules.get('av') is None and sys.modules.get('kornia') is None
        sys.exit(rc)
    """)
    assert res.returncode == 0, res.stderr[-3000:]
    doc = _check_run_folder(out, 2.0)
    assert doc["device"] == "cpu" and doc["amp"] == "none" and doc["gpu_name"] is None
    assert doc["channels_last"]["used"] is False and doc["num_workers"]["used"] == 1


def test_device_entry_refuses_occupied_out(tmp_path):
    from stvsr_blocks.recipe.device import main

    (tmp_path / "run.json").write_text("{}")
    assert main(["--budget-s", "1", "--device", "cpu", "--out", str(tmp_path)]) == 2


def test_device_entry_argument_errors():
    import pytest

    from stvsr_blocks.recipe.device import parse_args

    for bad in (["--budget-s", "0"], ["--eval-frames", "4"], ["--eval-size", "12"]):
        with pytest.raises(SystemExit):
            parse_args(["--out", "x", *bad])


@pytest.mark.slow
def test_device_train_script_dry_run(tmp_path):
    """The prepared shell script itself, both runs, --budget-s 20 on the CPU, PyAV and kornia unimportable."""
    import os

    stub = tmp_path / "stubs"
    for name in ("av", "kornia"):
        (stub / name).mkdir(parents=True)
        (stub / name / "__init__.py").write_text(f"raise ImportError('{name} is not installed on the device')\n")
    tiny = " ".join(TINY_ARGS)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(stub),
           "PYTHON": sys.executable, "DEVICE": "cpu", "BUDGET_A": "20", "BUDGET_B": "20", "RUNS": "a b",
           "EXTRA_A": tiny, "EXTRA_B": tiny + " --set data.photos.height=48 --set data.photos.width=48",
           "STVSR_COMMIT": "dry-run"}
    res = subprocess.run(["bash", str(ROOT / "recipes" / "device_train.sh"), str(tmp_path / "out")], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-3000:])
    for run in ("run_a", "run_b"):
        doc = _check_run_folder(tmp_path / "out" / run, 20.0)
        assert doc["commit"] == "dry-run"
    assert len(list((tmp_path / "out").rglob("*"))) == 2 + 8  # two folders, eight files: the tool's limit
