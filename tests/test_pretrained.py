"""Shipped weights: loading by name offline, checksums, the default model of eval/upscale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import stvsr_blocks.pretrained as pretrained
from stvsr_blocks.models import load_pretrained, mbnet_tiny, save_pretrained
from stvsr_blocks.pretrained import PRETRAINED, PretrainedEntry, pretrained_dir, sha256_file


@pytest.fixture()
def fake_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, torch.nn.Module]:
    """A shipped-model entry pointing at a freshly saved tiny model (the package folder is swapped)."""
    torch.manual_seed(0)
    model = mbnet_tiny()
    save_pretrained(model, tmp_path / "tiny_ship")
    entry = PretrainedEntry("tiny_ship", sha256_file(tmp_path / "tiny_ship" / "model.safetensors"), "test", "none")
    monkeypatch.setitem(PRETRAINED, "tiny-test", entry)
    monkeypatch.setattr(pretrained, "__file__", str(tmp_path / "__init__.py"))
    return "tiny-test", model


def test_load_by_name(fake_shipped) -> None:
    name, model = fake_shipped
    loaded = load_pretrained(name)
    assert loaded.source == name
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k


def test_checksum_mismatch(fake_shipped, tmp_path: Path) -> None:
    name, _ = fake_shipped
    weights = tmp_path / "tiny_ship" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256.*corrupt or was altered"):
        load_pretrained(name)


def test_missing_files_and_unknown_name(fake_shipped, tmp_path: Path) -> None:
    name, _ = fake_shipped
    with pytest.raises(KeyError, match="not a shipped model"):
        pretrained_dir("no-such-model")
    (tmp_path / "tiny_ship" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="missing from this installation"):
        pretrained_dir(name)


def test_config_without_model_config(tmp_path: Path) -> None:
    save_pretrained(mbnet_tiny(), tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text(json.dumps({"format": "stvsr_blocks/1"}))
    with pytest.raises(ValueError, match="has no 'config' mapping"):
        load_pretrained(tmp_path / "m")


def test_registry_entries_are_complete() -> None:
    from stvsr_blocks.pretrained import DEFAULT_MODEL

    assert DEFAULT_MODEL in PRETRAINED
    root = Path(pretrained.__file__).resolve().parent
    for name, entry in PRETRAINED.items():
        folder = root / entry.folder
        if not (folder / "model.safetensors").is_file():
            pytest.skip(f"{name}: weights not in this checkout yet")
        assert len(entry.sha256) == 64, name
        assert sha256_file(folder / "model.safetensors") == entry.sha256
        assert (folder / "model.safetensors").stat().st_size < 20 * 2**20


def _shipped_or_skip(name: str = "mbnet-photo") -> Path:
    try:
        return pretrained_dir(name)
    except FileNotFoundError:
        pytest.skip(f"{name}: weights not in this checkout yet")


def test_shipped_model_reproduces_its_card_figure() -> None:
    """The regression clip of the model card (card.json): Y-PSNR within 0.05 dB of the recorded figures."""
    from stvsr_blocks.metrics import get_protocol
    from stvsr_blocks.recipe.evaluate import EvalClip, evaluate_models, load_model

    folder = _shipped_or_skip()
    card = json.loads((folder / "card.json").read_text())
    reg = card["regression"]
    from stvsr_blocks.data.photo import PhotoVideoConfig, PhotoVideoDataset

    cfg = PhotoVideoConfig(height=reg["height"], width=reg["width"], times=tuple(reg["times"]))
    clip = PhotoVideoDataset(reg["photos"], 1, cfg, seed=reg["seed"])[0]
    torch.set_num_threads(max(1, torch.get_num_threads()))
    scores = evaluate_models({"m": load_model("mbnet-photo")}, [EvalClip(clip.name, clip.hr)],
                             get_protocol("stvsr-vid4"), lr_kernel=reg["lr_kernel"])
    groups = scores["m"].accumulator.summary().groups
    assert groups["vsr"]["psnr_y"] == pytest.approx(reg["psnr_y_vsr"], abs=0.05)
    assert groups["vfi"]["psnr_y"] == pytest.approx(reg["psnr_y_vfi"], abs=0.05)
