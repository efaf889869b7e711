"""The ``stvsr`` command (``stvsr_blocks.cli``): dispatch, ``models``, configs by name, the generated reference."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
from pathlib import Path

import pytest
import torch

from stvsr_blocks import cli
from stvsr_blocks.configs import CONFIG_DIR, config_names, resolve_config_path

ROOT = Path(__file__).resolve().parents[1]


class TestDispatch:
    def test_help_lists_every_subcommand(self, capsys):
        with pytest.raises(SystemExit) as exc:
            cli.main(["--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: stvsr ")
        for name in ("train", "eval", "upscale", "demo", "models"):
            assert f"\n    {name} " in out

    def test_subcommand_help_has_its_options(self, capsys):
        with pytest.raises(SystemExit):
            cli.main(["upscale", "--help"])
        out = capsys.readouterr().out
        assert out.startswith("usage: stvsr upscale ")
        for flag in ("--crf", "--preset", "--pix-fmt", "--no-audio", "--time-factor", "--out"):
            assert flag in out

    def test_unknown_subcommand_exits_2(self, capsys):
        with pytest.raises(SystemExit) as exc:
            cli.main(["frobnicate"])
        assert exc.value.code == 2
        assert "invalid choice: 'frobnicate'" in capsys.readouterr().err

    def test_version(self, capsys):
        from stvsr_blocks import __version__

        with pytest.raises(SystemExit) as exc:
            cli.main(["--version"], prog="stvsr")
        assert exc.value.code == 0
        assert capsys.readouterr().out.strip() == f"stvsr {__version__}"

    def test_recipe_alias_is_the_same_command(self, capsys):
        spec = importlib.util.spec_from_file_location("mbnet_alias", ROOT / "recipes" / "mbnet.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        assert mod.SUBCOMMANDS is cli.SUBCOMMANDS
        assert mod.main(["models", "--json"]) == 0
        assert [r["name"] for r in json.loads(capsys.readouterr().out)] == [r.name for r in cli.list_models()]


class TestModels:
    def test_baselines_and_shipped_are_listed(self):
        from stvsr_blocks.pretrained import DEFAULT_MODEL, PRETRAINED
        from stvsr_blocks.recipe.evaluate import BASELINES

        rows = {r.name: r for r in cli.list_models()}
        assert list(rows) == [*PRETRAINED, *BASELINES]
        for name in BASELINES:
            assert (rows[name].kind, rows[name].parameters, rows[name].status) == ("baseline", 0, "built in")
            assert len(rows[name].purpose) > 20
        for name in PRETRAINED:
            assert rows[name].kind == "shipped"
            assert rows[name].status in ("installed", "not installed")
            assert (rows[name].parameters is None) == (rows[name].status == "not installed")
        assert [r.name for r in rows.values() if r.default] == [DEFAULT_MODEL]

    def test_missing_weights_are_not_installed(self, monkeypatch):
        import stvsr_blocks.pretrained as pre

        monkeypatch.setitem(pre.PRETRAINED, "ghost", pre.PretrainedEntry("no_such_folder", "", "a ghost", "x.md"))
        row = next(r for r in cli.list_models() if r.name == "ghost")
        assert (row.status, row.parameters, row.purpose) == ("not installed", None, "a ghost")
        assert "ghost          shipped   -           not installed  a ghost" in cli.format_models(cli.list_models())

    def test_installed_weights_are_counted_and_checked(self, monkeypatch, tmp_path):
        from safetensors.torch import save_file

        import stvsr_blocks.pretrained as pre

        save_file({"a.weight": torch.zeros(3, 4), "b.bias": torch.zeros(5)}, str(tmp_path / "model.safetensors"))
        real = pre.pretrained_dir

        def fake(name, verify=True):
            if name == "good":
                return tmp_path
            if name == "bad":
                raise ValueError("checksum mismatch")
            return real(name, verify=verify)

        monkeypatch.setattr(pre, "pretrained_dir", fake)
        monkeypatch.setitem(pre.PRETRAINED, "good", pre.PretrainedEntry("g", "", "good one", "x.md"))
        monkeypatch.setitem(pre.PRETRAINED, "bad", pre.PretrainedEntry("b", "", "bad one", "x.md"))
        rows = {r.name: r for r in cli.list_models()}
        assert (rows["good"].status, rows["good"].parameters) == ("installed", 17)
        assert (rows["bad"].status, rows["bad"].parameters) == ("corrupt", None)
        assert re.search(r"^good +shipped +17 +installed +good one", cli.format_models(rows.values()), re.M)

    def test_json_output(self, capsys):
        assert cli.main(["models", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert {"name", "kind", "parameters", "status", "purpose", "default"} == set(data[0])
        assert {d["name"] for d in data} >= {"bicubic-blend", "bicubic-flow", "ffmpeg"}


class TestConfigs:
    def test_shipped_configs_are_package_data(self):
        assert config_names() == ["cpu_small", "mbnet_large_gpu", "mbnet_paper", "mbnet_photo", "mbnet_photo_gpu", "tiny"]
        assert CONFIG_DIR == Path(cli.__file__).resolve().parent / "configs"
        # the source checkout's recipes/configs is the same folder
        assert sorted(p.name for p in (ROOT / "recipes" / "configs").glob("*.yaml")) == \
            sorted(p.name for p in CONFIG_DIR.glob("*.yaml"))

    def test_resolve_by_name_or_path(self, tmp_path, monkeypatch):
        assert resolve_config_path("tiny") == CONFIG_DIR / "tiny.yaml"
        assert resolve_config_path("mbnet_photo.yaml") == CONFIG_DIR / "mbnet_photo.yaml"
        mine = tmp_path / "tiny"  # an existing file wins over the shipped name
        mine.write_text("name: mine\n")
        monkeypatch.chdir(tmp_path)
        assert resolve_config_path("tiny") == Path("tiny")
        assert resolve_config_path(str(mine)) == mine

    @pytest.mark.parametrize("bad", ["nope", "tiny.json", "sub/tiny", ""])
    def test_unknown_config_names_the_argument(self, bad):
        with pytest.raises(FileNotFoundError, match=r"^--config: .* \(shipped: cpu_small, mbnet_large_gpu, mbnet_paper, mbnet_photo, mbnet_photo_gpu, tiny\)"):
            resolve_config_path(bad)

    def test_train_takes_a_config_name(self, capsys):
        assert cli.main(["train", "--config", "tiny", "--print-config"]) == 0
        assert capsys.readouterr().out.startswith("name: tiny\n")
        assert cli.main(["train", "--config", "nope", "--print-config"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--config: 'nope' is neither a config file" in err


class TestReference:
    def test_reference_is_the_parsers_help(self):
        text = cli.cli_reference_markdown()
        os.environ["COLUMNS"] = "78"
        try:
            parser = cli.build_parser(full=True)
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            assert parser.format_help().rstrip() in text
            for name in cli.SUBCOMMANDS:
                assert f"## `stvsr {name}`" in text
                p = sub.choices[name]
                p.description = None
                help_text = p.format_help().rstrip()
                assert help_text.startswith(f"usage: stvsr {name} ") and help_text in text
        finally:
            del os.environ["COLUMNS"]
        assert text.count("```text") == len(cli.SUBCOMMANDS) + 1
        assert "[`stvsr_blocks.recipe.upscale`](../api/recipe/upscale.md)" in text
        assert "--no-audio" in text and "--config" in text
        assert max(len(line) for line in parser.format_help().splitlines()) <= 78  # fits the docs' column

    def test_docs_page_is_generated(self):
        page = (ROOT / "docs" / "reference" / "cli.md").read_text()
        assert "<!-- stvsr-cli-reference -->" in page
        assert "--crf" not in page  # nothing copied by hand: the hook inserts the parsers' help at build time
