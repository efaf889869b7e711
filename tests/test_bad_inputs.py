"""Bad inputs across the library, each with one clear error: a table of cases, one test each.

Every case names the offending argument or file in a one-line message and raises a documented exception
type (API) or exits with status 2 (command line). The same table is published as the docs page
``docs/errors.md`` ("Errors and recovery"); ``test_docs_page_lists_every_case`` keeps the two in sync.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from stvsr_blocks.data.io import write_image
from stvsr_blocks.metrics import niqe, psnr
from stvsr_blocks.models import MBnetConfig, load_pretrained, mbnet_tiny, mbnet_variant, save_pretrained
from stvsr_blocks.ops import backward_warp, quadratic_flow_interpolation
from stvsr_blocks.recipe import checkpoint as ck

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes:
        id: stable identifier (also the docs table's first column).
        layer: ``api``, ``config``, ``checkpoint``, ``cli``, ``dataset`` or ``video``.
        what: the bad input, in words.
        expect: the exception type (API) or the exit status (command line).
        names: substrings the message must contain (the argument or file, expected and actual where given).
        run: makes the bad input under a temporary folder and triggers the error (CLI cases return the status).
        fix: what the user should do.
    """

    id: str
    layer: str
    what: str
    expect: type[BaseException] | int
    names: tuple[str, ...]
    run: Callable[[Path], object]
    fix: str


_MODEL: dict[str, torch.nn.Module] = {}


def _tiny() -> torch.nn.Module:
    if "tiny" not in _MODEL:
        torch.manual_seed(0)
        _MODEL["tiny"] = mbnet_tiny().eval()
    return _MODEL["tiny"]


def _cascade() -> torch.nn.Module:
    if "cascade" not in _MODEL:
        torch.manual_seed(0)
        _MODEL["cascade"] = mbnet_variant("cascade_vfi_vsr", base="tiny").eval()
    return _MODEL["cascade"]


def _x(b: int = 1, c: int = 3, s: int = 16) -> torch.Tensor:
    return torch.rand(b, c, s, s, generator=torch.Generator().manual_seed(0))


def _with(x: torch.Tensor, value: float) -> torch.Tensor:
    y = x.clone()
    y[0, 0, 0, 0] = value
    return y


def _cli(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("mbnet_recipe_cli", ROOT / "recipes" / "mbnet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mod.main(argv)


def _model_dir(tmp: Path) -> Path:
    d = tmp / "model"
    save_pretrained(_tiny(), d)
    return d


def _edit_config(tmp: Path, edit: Callable[[dict], object]) -> Path:
    d = _model_dir(tmp)
    meta = json.loads((d / "config.json").read_text())
    edit(meta)
    (d / "config.json").write_text(json.dumps(meta))
    return d


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _checkpoint(tmp: Path, step: int = 2) -> Path:
    return ck.save_checkpoint(tmp / "run" / "checkpoints", step, model=_tiny(), state={"note": "x"})


def _frames(folder: Path, n: int, size: tuple[int, int] = (32, 32), name: str = "im{}.png") -> None:
    for i in range(n):
        write_image(folder / name.format(i + 1), torch.rand(3, *size, generator=torch.Generator().manual_seed(i)))


def _vimeo_missing_frame(tmp: Path) -> int:
    root = tmp / "vimeo"
    _frames(root / "sequences" / "00001" / "0001", 7)
    (root / "sequences" / "00001" / "0001" / "im4.png").unlink()
    (root / "sep_testlist.txt").write_text("00001/0001\n")
    return _cli(["eval", "--model", "bicubic-blend", "--layout", "vimeo-septuplet", "--root", str(root),
                 "--quiet", "--out", str(tmp / "ev")])


def _raises_in_forward(model: Callable[[], torch.nn.Module], a: Callable[[], torch.Tensor],
                       b: Callable[[], torch.Tensor], **kw: object) -> Callable[[Path], object]:
    def run(tmp: Path) -> object:
        with torch.no_grad():
            return model()(a(), b(), **kw)
    return run


CASES: list[Case] = [
    # ------------------------------------------------------------------ model boundary
    Case("model-float16", "api", "float16 input to a float32 model", TypeError,
         ("lr0", "torch.float32", "torch.float16", "autocast"),
         _raises_in_forward(_tiny, lambda: _x().half(), lambda: _x().half()),
         "`x.float()`, `model.half()`, or run under `torch.autocast`"),
    Case("model-float64", "api", "float64 frame 1 to a float32 model", TypeError, ("lr1", "torch.float32", "torch.float64"),
         _raises_in_forward(_tiny, _x, lambda: _x().double()), "`x.float()` or `model.double()`"),
    Case("model-int", "api", "uint8 frames", TypeError, ("lr0", "floating-point", "torch.uint8"),
         _raises_in_forward(_tiny, lambda: (_x() * 255).to(torch.uint8), _x), "`x.float() / 255`"),
    Case("model-nan", "api", "a NaN in frame 1", ValueError, ("lr1", "finite", "1 NaN"),
         _raises_in_forward(_tiny, _x, lambda: _with(_x(), float("nan"))), "fix the data pipeline upstream"),
    Case("model-inf", "api", "an Inf in frame 0", ValueError, ("lr0", "finite", "1 Inf"),
         _raises_in_forward(_tiny, lambda: _with(_x(), float("inf")), _x), "fix the data pipeline upstream"),
    Case("model-0-255", "api", "0–255-valued floats", ValueError, ("lr0", "[0, 1]", "divide by 255"),
         _raises_in_forward(_tiny, lambda: _x() * 255, lambda: _x() * 255), "divide by 255"),
    Case("model-minus1-1", "api", "[-1, 1]-valued floats", ValueError, ("lr0", "[0, 1]", "(x + 1) / 2"),
         _raises_in_forward(_tiny, lambda: _x() * 2 - 1, _x), "map with `(x + 1) / 2`"),
    Case("model-batch0", "api", "a batch of 0 frame pairs", ValueError, ("lr0", "batch size 0"),
         _raises_in_forward(_tiny, lambda: _x()[:0], lambda: _x()[:0]), "skip empty batches"),
    Case("model-shape-mismatch", "api", "frames of different sizes", ValueError, ("lr0 and lr1", "(1, 3, 16, 16)", "(1, 3, 16, 12)"),
         _raises_in_forward(_tiny, _x, lambda: _x()[..., :12]), "resize or crop to a common size"),
    Case("model-channels", "api", "4-channel (RGBA) frames", ValueError, ("lr0", "(B, 3, h, w)", "(1, 4, 16, 16)"),
         _raises_in_forward(_tiny, lambda: _x(c=4), lambda: _x(c=4)), "drop the alpha channel"),
    Case("model-device", "api", "a meta-device input to a CPU model", ValueError, ("lr0", "device cpu", "meta"),
         _raises_in_forward(_tiny, lambda: torch.empty(1, 3, 16, 16, device="meta"),
                            lambda: torch.empty(1, 3, 16, 16, device="meta")), "move input and model to one device"),
    Case("model-t-range", "api", "t = 1.5", ValueError, ("t", "[0.0, 1.0]", "1.5"),
         _raises_in_forward(_tiny, _x, _x, t=1.5), "a time in (0, 1)"),
    Case("model-t-shape", "api", "one t per item of the wrong length", ValueError, ("t", "(1,)", "(3,)"),
         _raises_in_forward(_tiny, _x, _x, t=torch.full((3,), 0.5)), "one time per batch item"),
    Case("cascade-nan", "api", "a NaN into the VFI→VSR cascade", ValueError, ("lr0", "finite"),
         _raises_in_forward(_cascade, lambda: _with(_x(), float("nan")), _x), "fix the data pipeline upstream"),
    Case("cascade-float64", "api", "float64 into the VFI→VSR cascade", TypeError, ("lr0", "torch.float64"),
         _raises_in_forward(_cascade, lambda: _x().double(), lambda: _x().double()), "`x.float()`"),
    Case("clip-one-frame", "api", "`forward_clip` with one frame", ValueError, ("lr_clip", "at least 2 frames"),
         lambda tmp: _tiny().forward_clip(_x()[:, None]), "give at least two frames"),
    # ------------------------------------------------------------------ constructors and options
    Case("loop-iterations", "api", "`mbnet_tiny(iterations=0)`", ValueError, ("iterations", "positive int", "0"),
         lambda tmp: mbnet_tiny(iterations=0), "iterations >= 1"),
    Case("config-choice", "config", "`MBnetConfig(vfi_kind='transformer')`", ValueError, ("vfi_kind", "'transformer'"),
         lambda tmp: MBnetConfig(vfi_kind="transformer"), "one of the listed kinds"),
    Case("config-coefficients", "config", "`MBnetConfig(quadratic_coefficients='cubic')`", ValueError,
         ("quadratic_coefficients", "'cubic'"), lambda tmp: MBnetConfig(quadratic_coefficients="cubic"),
         "'slomo' or 'paper'"),
    Case("variant-unknown", "api", "`mbnet_variant('fast')`", ValueError, ("variant", "'fast'"),
         lambda tmp: mbnet_variant("fast"), "a key of `VARIANTS`"),
    Case("warp-flow-channels", "api", "a 3-channel flow to `backward_warp`", ValueError, ("flow", "(B, 2, H, W)", "(1, 3, 16, 16)"),
         lambda tmp: backward_warp(_x(), _x()), "flows have 2 channels (x, y)"),
    Case("flow-coefficients", "api", "`quadratic_flow_interpolation(coefficients='cubic')`", ValueError,
         ("coefficients", "'cubic'"), lambda tmp: quadratic_flow_interpolation(_x(c=2), _x(c=2), 0.5, coefficients="cubic"),
         "'slomo' or 'paper'"),
    Case("niqe-small", "api", "NIQE of a 64×64 image", ValueError, ("image", "96x96 patches", "64x64"),
         lambda tmp: niqe(_x(s=64)[0]), "frames of at least 96×192"),
    Case("psnr-shapes", "api", "PSNR of images of different sizes", ValueError, ("pred", "target"),
         lambda tmp: psnr(_x()[0], _x(s=12)[0]), "compare like with like"),
    # ------------------------------------------------------------------ model folders (config.json, weights)
    Case("folder-json", "config", "`config.json` that is not JSON", ValueError, ("config.json", "not valid JSON"),
         lambda tmp: (lambda d: (d / "config.json").write_text("{oops") and load_pretrained(d))(_model_dir(tmp)),
         "restore the file from `save_pretrained`"),
    Case("folder-no-config", "config", "`config.json` without the `config` key", ValueError, ("config.json", "'config'"),
         lambda tmp: load_pretrained(_edit_config(tmp, lambda m: m.pop("config"))), "re-save with `save_pretrained`"),
    Case("folder-unknown-key", "config", "an unknown key in a block section", ValueError, ("config.json", "vsr.depth"),
         lambda tmp: load_pretrained(_edit_config(tmp, lambda m: m["config"]["vsr"].update(depth=3))),
         "remove the key (the message lists the known ones)"),
    Case("folder-section-type", "config", "a block section that is not a mapping", ValueError, ("config.json", "MBnetConfig.flow"),
         lambda tmp: load_pretrained(_edit_config(tmp, lambda m: m["config"].update(flow=3))), "a mapping of fields"),
    Case("folder-bad-value", "config", "`iterations: \"two\"` in the config", ValueError, ("config.json", "iterations"),
         lambda tmp: load_pretrained(_edit_config(tmp, lambda m: m["config"].update(iterations="two"))), "a positive int"),
    Case("folder-truncated-weights", "config", "a truncated `model.safetensors`", ValueError,
         ("model.safetensors", "truncated or corrupt"),
         lambda tmp: (lambda d: _truncate(d / "model.safetensors") or load_pretrained(d))(_model_dir(tmp)),
         "copy the file again"),
    Case("folder-wrong-weights", "config", "weights of another preset beside the config", ValueError,
         ("model.safetensors", "does not fit", "wrong shapes"),
         lambda tmp: load_pretrained(_edit_config(tmp, lambda m: m["config"]["vfi"].update(widths=[8, 16, 32]))),
         "keep `config.json` and `model.safetensors` together"),
    # ------------------------------------------------------------------ training checkpoints
    Case("ckpt-truncated-state", "checkpoint", "a truncated `state.pt`", ck.CheckpointError, ("state.pt", "truncated or corrupt"),
         lambda tmp: (lambda p: _truncate(p / "state.pt") or ck.load_checkpoint(p))(_checkpoint(tmp)),
         "`--resume auto` falls back to the previous checkpoint"),
    Case("ckpt-flipped-weights", "checkpoint", "one flipped byte in a checkpoint's weights", ck.CheckpointError,
         ("model.safetensors", "SHA-256"),
         lambda tmp: (lambda p: _flip(p / "model.safetensors") or ck.verify_checkpoint(p))(_checkpoint(tmp)),
         "`--resume auto` falls back to the previous checkpoint"),
    Case("ckpt-all-damaged", "checkpoint", "`resume='auto'` when every checkpoint is damaged", ck.CheckpointError,
         ("resume='auto'", "all 1 checkpoints", "step_00000002"),
         lambda tmp: (lambda p: _truncate(p / "state.pt") or ck.resolve_checkpoint("auto", tmp / "run"))(_checkpoint(tmp)),
         "delete the damaged checkpoints or resume from a copy"),
    Case("ckpt-missing", "checkpoint", "`--resume` of a folder without checkpoints", FileNotFoundError, ("resume", "nothing"),
         lambda tmp: ck.resolve_checkpoint(tmp / "nothing"), "point at a run or checkpoint folder"),
    # ------------------------------------------------------------------ command line
    Case("cli-eval-model-missing-key", "cli", "`eval --model DIR` whose `config.json` lacks `config`", 2,
         ("--model", "config.json", "'config'"),
         lambda tmp: _cli(["eval", "--model", str(_edit_config(tmp, lambda m: m.pop("config"))), "--quiet",
                           "--out", str(tmp / "ev")]), "re-save with `save_pretrained`"),
    Case("cli-eval-model-bad-json", "cli", "`eval --model DIR` with a malformed `config.json`", 2,
         ("--model", "config.json", "not valid JSON"),
         lambda tmp: _cli(["eval", "--model", str((lambda d: (d / "config.json").write_text("[1,") and d)(_model_dir(tmp))),
                           "--quiet", "--out", str(tmp / "ev")]), "restore the file"),
    Case("cli-eval-model-unknown", "cli", "`eval --model no-such-model`", 2, ("--model", "no-such-model"),
         lambda tmp: _cli(["eval", "--model", "no-such-model", "--quiet", "--out", str(tmp / "ev")]),
         "a shipped name, a baseline or a checkpoint folder"),
    Case("cli-eval-niqe-small", "cli", "`eval --niqe` on 64×64 frames", 2, ("--niqe", "64x64"),
         lambda tmp: _cli(["eval", "--model", "bicubic-blend", "--synthetic-clips", "1", "--synthetic-size", "64x64",
                           "--synthetic-frames", "3", "--niqe", "--quiet", "--out", str(tmp / "ev")]),
         "drop `--niqe` or evaluate larger frames"),
    Case("cli-upscale-truncated-weights", "cli", "`upscale --model DIR` with truncated weights", 2,
         ("--model", "model.safetensors", "truncated"),
         lambda tmp: _cli(["upscale", str((lambda s: _frames(s, 2) or s)(tmp / "src")), "--out", str(tmp / "o.mp4"),
                           "--model", str((lambda d: _truncate(d / "model.safetensors") or d)(_model_dir(tmp))),
                           "--no-progress"]), "copy the model folder again"),
    Case("cli-upscale-missing", "cli", "`upscale` of a missing file", 2, ("nope.mp4", "not found"),
         lambda tmp: _cli(["upscale", str(tmp / "nope.mp4"), "--out", str(tmp / "o.mp4"), "--no-progress"]),
         "check the path"),
    Case("cli-upscale-one-frame", "cli", "`upscale` of a folder with one frame", 2, ("at least 2",),
         lambda tmp: _cli(["upscale", str((lambda s: _frames(s, 1) or s)(tmp / "src")), "--out", str(tmp / "o.mp4"),
                           "--no-progress"]), "give two or more frames"),
    Case("cli-train-config-missing", "cli", "`train --config` of a missing file", 2, ("nope.yaml",),
         lambda tmp: _cli(["train", "--config", str(tmp / "nope.yaml"), "--out", str(tmp / "run")]), "check the path"),
    Case("cli-train-unknown-key", "cli", "`train --set train.stepz=3`", 2, ("train.stepz",),
         lambda tmp: _cli(["train", "--config", str(ROOT / "recipes/configs/tiny.yaml"), "--set", "train.stepz=3",
                           "--out", str(tmp / "run")]), "the message lists the valid keys"),
    Case("cli-train-bad-value", "cli", "`train --set train.steps=many`", 2, ("train.steps", "many"),
         lambda tmp: _cli(["train", "--config", str(ROOT / "recipes/configs/tiny.yaml"), "--set", "train.steps=many",
                           "--out", str(tmp / "run")]), "an int"),
    Case("cli-train-bad-yaml", "cli", "a config file that is not YAML", 2, ("bad.yaml", "line 2, column 1"),
         lambda tmp: _cli(["train", "--config", str((lambda p: p.write_text("model: [unclosed\n") and p)(tmp / "bad.yaml")),
                           "--out", str(tmp / "run")]), "fix the YAML syntax"),
    Case("cli-demo-steps", "cli", "`demo --steps 0`", 2, ("--steps", "0"),
         lambda tmp: _cli(["demo", "--steps", "0", "--out", str(tmp / "demo")]), "a positive number of steps"),
    # ------------------------------------------------------------------ dataset trees and video files
    Case("dataset-vimeo-missing-frame", "dataset", "a Vimeo septuplet with `im4.png` missing", 2, ("im4.png",),
         _vimeo_missing_frame, "restore the frame; `python -m stvsr_blocks.data.check` lists every problem"),
    Case("video-garbage", "video", "a `.mp4` that holds text", 2, ("clip.mp4",),
         lambda tmp: _cli(["upscale", str((lambda p: p.write_text("not a video") and p)(tmp / "clip.mp4")),
                           "--out", str(tmp / "o.mp4"), "--no-progress"]), "re-encode or re-download the file"),
    Case("video-empty", "video", "an empty `.mp4`", 2, ("empty.mp4",),
         lambda tmp: _cli(["upscale", str((lambda p: p.write_bytes(b"") or p)(tmp / "empty.mp4")),
                           "--out", str(tmp / "o.mp4"), "--no-progress"]), "re-encode or re-download the file"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if isinstance(case.expect, int):
        rc = case.run(tmp_path)
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert rc == case.expect and len(lines) == 1 and "error" in lines[0], (rc, err)
        message = lines[0]
    else:
        with pytest.raises(case.expect) as info:
            case.run(tmp_path)
        message = str(info.value)
        assert "\n" not in message, message
    for name in case.names:
        assert name in message, (name, message)


def test_enough_cases() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)
    assert {c.layer for c in CASES} == {"api", "config", "checkpoint", "cli", "dataset", "video"}


def test_docs_page_lists_every_case() -> None:
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    missing = [c.id for c in CASES if f"`{c.id}`" not in page]
    assert not missing, f"docs/errors.md lacks rows for {missing} (regenerate with python -m tests.test_bad_inputs)"


def docs_table() -> str:
    """The Markdown table of ``docs/errors.md`` (``python -m tests.test_bad_inputs`` prints it)."""
    rows = ["| case | where | bad input | error | message names | remedy |", "|---|---|---|---|---|---|"]
    for c in CASES:
        err = f"exit {c.expect}" if isinstance(c.expect, int) else f"`{c.expect.__name__}`"
        names = ", ".join(f"`{n}`" for n in c.names).replace("|", "\\|")
        rows.append(f"| `{c.id}` | {c.layer} | {c.what} | {err} | {names} | {c.fix} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(docs_table(), end="")


def test_train_resume_auto_skips_truncated_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Recovery: a truncated latest ``state.pt`` makes ``train --resume auto`` continue from the previous one."""
    spec = importlib.util.spec_from_file_location("mbnet_recipe_cli", ROOT / "recipes" / "mbnet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    run = tmp_path / "run"
    small = ["--set", "data.lr_patch=8", "--set", "data.synthetic.height=32", "--set", "data.synthetic.width=32",
             "--set", "data.val_crop=32", "--set", "log.ckpt_every=1", "--set", "log.keep_last=3",
             "--set", "log.val_every=100", "--no-progress"]
    argv = ["train", "--config", str(ROOT / "recipes/configs/tiny.yaml"), *small, "--out", str(run)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert mod.main([*argv, "--steps", "2"]) == 0
        _truncate(run / "checkpoints" / "step_00000002" / "state.pt")
        with pytest.warns(UserWarning) as record:
            assert mod.main([*argv, "--steps", "3", "--resume", "auto"]) == 0
    finally:
        torch.set_num_threads(threads)
    messages = [str(w.message) for w in record]
    assert any("skipping damaged checkpoint step_00000002" in m and "state.pt" in m for m in messages), messages
    assert any("resuming from step_00000001" in m for m in messages), messages
    assert "done: step 3" in capsys.readouterr().out
    assert ck.latest_checkpoint(run).name == "step_00000003"
