"""The built wheel works on its own: installed into a fresh folder, ``stvsr`` runs from outside the checkout.

The wheel is built offline from a copy of the sources (``pip wheel --no-build-isolation``), installed with
``pip install --target`` (no dependencies: torch and the rest come from the running environment), and the
commands run with only that folder on ``PYTHONPATH``, in a working directory outside the checkout. Missing
package data (configs, entry point) fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{' '.join(cmd)} -> {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """(wheel, install folder, environment): the wheel built from a copy of the sources and installed."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "stvsr_blocks", src / "stvsr_blocks",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(base / "dist"),
          str(src)], cwd=base, env=env)
    (wheel,) = (base / "dist").glob("stvsr_blocks-*.whl")
    target = base / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
         cwd=base, env=env)
    env["PYTHONPATH"] = str(target)
    return wheel, target, env


def test_wheel_contents(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for cfg in ("tiny", "cpu_small", "mbnet_photo", "mbnet_paper"):
        assert f"stvsr_blocks/configs/{cfg}.yaml" in names
    assert {"stvsr_blocks/__main__.py", "stvsr_blocks/cli.py"} <= names
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "[console_scripts]" in text and "stvsr = stvsr_blocks.cli:main" in text


def test_installed_command_runs_outside_the_checkout(installed, tmp_path):
    _, target, env = installed
    stvsr = str(target / "bin" / "stvsr")
    work = tmp_path / "user"
    work.mkdir()
    where = _run([sys.executable, "-c", "import stvsr_blocks; print(stvsr_blocks.__file__)"], work, env).stdout
    assert Path(where.strip()).is_relative_to(target), where  # the installed copy, not the checkout

    usage = _run([stvsr, "--help"], work, env).stdout
    assert usage.startswith("usage: stvsr ") and "upscale" in usage and "models" in usage

    listing = _run([stvsr, "models"], work, env).stdout.splitlines()
    assert listing[0].split() == ["NAME", "KIND", "PARAMETERS", "STATUS", "PURPOSE"]
    assert {line.split()[0] for line in listing[1:] if line and not line.startswith("*")} >= {
        "mbnet-photo", "bicubic-blend", "bicubic-flow", "ffmpeg"}

    cfg = _run([sys.executable, "-m", "stvsr_blocks", "train", "--config", "tiny", "--print-config"], work, env)
    assert cfg.stdout.startswith("name: tiny\n")

    # a small clip with sound, upscaled with the default output name
    gen = ("import sys; sys.path.insert(0, sys.argv[1]); from audio_clip import make_clip; "
           "make_clip(sys.argv[2], frames=4, fps=10, size=16)")
    _run([sys.executable, "-c", gen, str(Path(__file__).parent / "recipe"), "clip.mp4"], work, env)
    res = _run([stvsr, "upscale", "clip.mp4", "--model", "bicubic-blend", "--no-progress"], work, env)
    assert "audio: aac copied" in res.stdout

    import av

    with av.open(str(work / "clip_stvsr.mp4")) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height, v.frames) == (64, 64, 7)
        assert Fraction(v.average_rate) == 20
        assert [s.codec_context.name for s in c.streams.audio] == ["aac"]
