"""Config schema: files, dotted overrides, CLI flags, errors naming the key."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest

from stvsr_blocks.recipe.config import (
    ConfigError,
    TrainRunConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    leaf_fields,
    load_config,
    parse_override,
    read_config_file,
    save_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "recipes" / "configs"


@pytest.mark.parametrize("name", ["mbnet_paper.yaml", "cpu_small.yaml", "tiny.yaml"])
def test_presets_load(name: str) -> None:
    cfg = load_config(TrainRunConfig, CONFIGS / name)
    assert isinstance(cfg, TrainRunConfig)
    assert cfg.name == name.removesuffix(".yaml")


def test_paper_preset_hyper_parameters() -> None:
    cfg = load_config(TrainRunConfig, CONFIGS / "mbnet_paper.yaml")
    assert cfg.model.preset == "paper" and cfg.model.variant == "mbnet"
    assert cfg.train.optimizer == "adam" and cfg.train.lr == 1e-4 and cfg.train.batch_size == 16
    assert cfg.data.lr_patch == 32 and cfg.data.scale == 4 and cfg.data.layout == "vimeo-septuplet"
    assert (cfg.loss.lambda_1, cfg.loss.lambda_2, cfg.loss.lambda_a, cfg.loss.lambda_b) == (1.0, 0.5, 0.01, 0.0)
    assert cfg.train.scheduler == "constant"


def test_sections_are_the_library_dataclasses() -> None:
    from stvsr_blocks.data.synthetic import SyntheticVideoConfig
    from stvsr_blocks.losses import LossConfig

    cfg = TrainRunConfig()
    assert isinstance(cfg.loss, LossConfig) and isinstance(cfg.data.synthetic, SyntheticVideoConfig)
    assert type(cfg.loss.loss_config()) is LossConfig and cfg.loss.loss_config() == LossConfig.paper()
    keys = {k for k, _, _ in leaf_fields(TrainRunConfig)}
    # every field of the library's dataclasses is a config key: none is copied by hand
    assert {f"loss.{f.name}" for f in dataclasses.fields(LossConfig)} <= keys
    assert {f"data.synthetic.{f.name}" for f in dataclasses.fields(SyntheticVideoConfig)} <= keys
    video = load_config(TrainRunConfig, None, ["data.synthetic.acceleration=0.5", "data.synthetic.n_clips=3"])
    assert video.data.synthetic.video_config() == SyntheticVideoConfig(frames=3, acceleration=0.5)
    assert video.data.synthetic.n_clips == 3


def test_model_section_resolves_its_config_without_building(monkeypatch: pytest.MonkeyPatch) -> None:
    import stvsr_blocks.models as models

    def no_build(*a, **k):
        raise AssertionError("a model was built to read a config")

    monkeypatch.setattr(models, "build_model", no_build)
    cfg = load_config(TrainRunConfig, CONFIGS / "mbnet_paper.yaml", ["model.overrides.iterations=3"])
    mc = cfg.model.model_config()
    assert isinstance(mc, models.MBnetConfig) and mc.vsr.D == 16 and mc.iterations == 3
    assert models.variant_config("no_interaction", base="paper").iterations == 1
    with pytest.raises(ConfigError, match=r"model\.overrides: .*nope"):  # checked at load time
        load_config(TrainRunConfig, None, ["model.overrides.vsr.nope=1"])
    with pytest.raises(ConfigError, match=r"model\.variant"):
        load_config(TrainRunConfig, None, ["model.variant=nope"])


def test_run_config_of_an_earlier_version_loads(tmp_path: Path) -> None:
    """A ``config.yaml`` written into a run folder by the previous release (LossSection/SyntheticSection
    mirrors) loads unchanged, and resume/eval read it from the run folder."""
    from stvsr_blocks.recipe.train import config_from_args

    old = Path(__file__).with_name("old_run_config.yaml")
    cfg = load_config(TrainRunConfig, old)
    assert cfg.loss.teacher.num_flow_updates == 4 and cfg.data.synthetic.n_clips == 8
    assert cfg.model.model_config().vsr.D == 3 and cfg.data.synthetic.height == 64
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(old.read_text())
    resumed, out = config_from_args(_parse(["--out", str(run), "--resume", "auto"]))
    assert resumed == cfg and out == run


def test_overrides_coerce_types() -> None:
    cfg = load_config(TrainRunConfig, CONFIGS / "tiny.yaml", [
        "train.steps=200", "data.layout=vimeo-septuplet", "train.lr=1e-4", "train.betas=[0.8, 0.9]",
        "data.val_crop=null", "train.milestones=[10, 20]", "model.overrides.vsr.D=3", "log.tensorboard=false",
        ("data.root", "/data/vimeo"),
    ])
    assert cfg.train.steps == 200 and cfg.data.layout == "vimeo-septuplet" and cfg.data.root == "/data/vimeo"
    assert cfg.train.lr == pytest.approx(1e-4) and isinstance(cfg.train.lr, float)
    assert cfg.train.betas == (0.8, 0.9) and cfg.train.milestones == [10, 20]
    assert cfg.data.val_crop is None and cfg.log.tensorboard is False
    assert cfg.model.overrides == {"vsr": {"D": 3}}
    # the rest of the file is kept
    assert cfg.data.lr_patch == 16 and cfg.train.batch_size == 2


def test_later_overrides_win() -> None:
    cfg = load_config(TrainRunConfig, None, ["train.steps=1", "train.steps=7"])
    assert cfg.train.steps == 7


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("train.stepz=1", "'train.stepz'"),
        ("trian.steps=1", "'trian'"),
        ("data.synthetic.nclips=3", "'data.synthetic.nclips'"),
        ("train.steps.x=1", "'train.steps' is a value"),
    ],
)
def test_unknown_override_key_is_named(override: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_config(TrainRunConfig, None, [override])


def test_unknown_key_suggests() -> None:
    with pytest.raises(ConfigError, match="did you mean 'train.steps'"):
        config_from_dict(TrainRunConfig, {"train": {"stepz": 3}})


def test_unknown_key_in_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("train:\n  steps: 3\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"'train\.learning_rate'"):
        load_config(TrainRunConfig, p)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"train": {"steps": "many"}}, "train.steps: expected an int"),
        ({"train": {"amp": "fp8"}}, "train.amp: expected one of"),
        ({"log": {"tensorboard": "maybe"}}, "log.tensorboard: expected a bool"),
        ({"train": {"betas": 0.9}}, "train.betas: expected a list"),
        ({"train": {"betas": [0.9]}}, "train.betas: expected a list of 2 items"),
        ({"data": 3}, "data: expected a mapping"),
        ({"train": {"steps": 0}}, "steps: expected a positive value"),
        ({"data": {"synthetic": {"frames": 2}}}, "data.synthetic: frames: expected >= 3"),
        ({"data": {"synthetic": {"max_speed": -1}}}, "data.synthetic: max_speed: expected a value >= 0"),
        ({"loss": {"lambda_a": -1}}, "loss: lambda_a: expected a non-negative number"),
        ({"model": {"preset": "huge"}}, "model.preset: expected one of"),
    ],
)
def test_bad_values_name_the_key(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("(", r"\(")):
        config_from_dict(TrainRunConfig, data)


def test_parse_override() -> None:
    assert parse_override("a.b=3") == ("a.b", 3)
    assert parse_override("a=x=y") == ("a", "x=y")
    assert parse_override("a=") == ("a", "")
    for bad in ("novalue", "=3", "a..b=1"):
        with pytest.raises(ConfigError):
            parse_override(bad)


def test_apply_overrides_does_not_mutate() -> None:
    data = {"train": {"steps": 1}}
    out = apply_overrides(data, ["train.steps=2"], TrainRunConfig)
    assert data == {"train": {"steps": 1}} and out == {"train": {"steps": 2}}


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_and_reload(tmp_path: Path, suffix: str) -> None:
    cfg = load_config(TrainRunConfig, CONFIGS / "cpu_small.yaml", ["model.overrides.iterations=3"])
    path = save_config(cfg, tmp_path / f"run{suffix}")
    assert load_config(TrainRunConfig, path) == cfg
    if suffix == ".json":
        assert json.loads(path.read_text())["train"]["batch_size"] == cfg.train.batch_size
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_read_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_config_file(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        read_config_file(tmp_path / "list.yaml")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="cannot parse"):
        read_config_file(tmp_path / "broken.json")
    (tmp_path / "empty.yaml").write_text("")
    assert read_config_file(tmp_path / "empty.yaml") == {}


def test_to_dict_round_trip() -> None:
    cfg = TrainRunConfig()
    assert config_from_dict(TrainRunConfig, config_to_dict(cfg)) == cfg
    with pytest.raises(TypeError):
        config_to_dict(TrainRunConfig)


def test_leaf_fields() -> None:
    keys = [k for k, _, _ in leaf_fields(TrainRunConfig)]
    assert "train.steps" in keys and "data.synthetic.n_clips" in keys and "loss.teacher.weights" in keys
    assert "data" not in keys and "data.synthetic" not in keys
    with pytest.raises(TypeError):
        leaf_fields(int)


def _parse(argv: list[str]) -> argparse.Namespace:
    from stvsr_blocks.recipe.train import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(argv)


def test_cli_flags_and_precedence(tmp_path: Path) -> None:
    from stvsr_blocks.recipe.train import config_from_args

    args = _parse(["--config", str(CONFIGS / "tiny.yaml"), "--train.steps", "9", "--set", "train.steps=11",
                   "--data.layout", "vimeo-septuplet", "--set", "data.root=/d", "--amp", "bf16", "--seed", "5",
                   "--out", str(tmp_path / "run")])
    cfg, out = config_from_args(args)
    assert cfg.train.steps == 11  # --set after --section.key
    assert cfg.data.layout == "vimeo-septuplet" and cfg.data.root == "/d"
    assert cfg.train.amp == "bf16" and cfg.train.seed == 5
    assert out == tmp_path / "run"
    cfg2, out2 = config_from_args(_parse(["--config", str(CONFIGS / "tiny.yaml"), "--steps", "3"]))
    assert cfg2.train.steps == 3 and out2 == Path("runs") / "tiny"


def test_cli_unknown_key_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    from stvsr_blocks.recipe.train import main

    assert main(_parse(["--set", "train.nope=1"])) == 2
    assert "'train.nope'" in capsys.readouterr().err


def test_cli_print_config(capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from stvsr_blocks.recipe.train import main

    assert main(_parse(["--config", str(CONFIGS / "tiny.yaml"), "--print-config", "--train.lr", "3e-3"])) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["train"]["lr"] == pytest.approx(3e-3) and printed["name"] == "tiny"
