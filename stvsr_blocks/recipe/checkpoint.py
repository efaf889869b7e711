"""Atomic training checkpoints: safetensors weights + a state file, keep-last-K, resume lookup, RNG capture.

A checkpoint is a folder ``<run>/checkpoints/step_XXXXXXXX/`` holding

- ``model.safetensors``: the model's ``state_dict`` (safetensors);
- ``config.json``: the model config in the :func:`stvsr_blocks.models.save_pretrained` format, so
  :func:`stvsr_blocks.models.load_pretrained` opens a checkpoint folder directly;
- ``state.pt``: everything else needed to continue exactly (optimizer, scheduler, grad scaler,
  step, RNG states, data position, the run config), saved with :func:`torch.save` and read back
  with ``torch.load(weights_only=True)``; it records the SHA-256 of the weights it belongs to.

**Atomicity.** The folder is assembled under a temporary name in the same directory
(``.tmp-step_XXXXXXXX-<pid>``; every file fsynced) and moved into place with one
:func:`os.replace`, so a crash or ``SIGKILL`` at any moment leaves either the complete new checkpoint
or none at all: the previous checkpoints are never touched, and no partial folder ever carries a
checkpoint name. Stale temporary folders are ignored by :func:`list_checkpoints` and removed by
:func:`remove_stale_temporaries`. Old checkpoints are pruned only after the new one is in place.

**Verification.** Atomic saves do not protect against damage afterwards (a disk filling up under a
copy, a truncated transfer, bit rot). :func:`verify_checkpoint` checks a folder without
materialising it: every member of ``state.pt`` against its CRC-32, the state readable with
``weights_only=True``, the weights' SHA-256 against the one ``state.pt`` records, the safetensors
header and ``config.json``. Any problem is one :class:`CheckpointError` line naming the file.
``resume="auto"`` (:func:`resolve_checkpoint`) verifies the newest checkpoint and falls back to the
newest intact one, warning about each one it skipped.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from stvsr_blocks.pretrained import sha256_file

__all__ = [
    "CHECKPOINT_DIRNAME",
    "WEIGHTS_NAME",
    "STATE_NAME",
    "MODEL_CONFIG_NAME",
    "Checkpoint",
    "CheckpointError",
    "checkpoint_name",
    "atomic_write",
    "save_checkpoint",
    "list_checkpoints",
    "latest_checkpoint",
    "resolve_checkpoint",
    "load_checkpoint",
    "verify_checkpoint",
    "prune_checkpoints",
    "remove_stale_temporaries",
    "capture_rng_state",
    "restore_rng_state",
    "unwrap_model",
]

#: Sub-folder of a run directory that holds the checkpoints.
CHECKPOINT_DIRNAME = "checkpoints"
#: Weights file inside a checkpoint folder.
WEIGHTS_NAME = "model.safetensors"
#: Training-state file inside a checkpoint folder.
STATE_NAME = "state.pt"
#: Model-config file inside a checkpoint folder (``save_pretrained`` format).
MODEL_CONFIG_NAME = "config.json"

_FORMAT = "stvsr_blocks/1"
_NAME_RE = re.compile(r"^step_(\d{8,})$")
_TMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"


class CheckpointError(ValueError):
    """A checkpoint folder is corrupt, truncated or inconsistent (the message names the file)."""


def checkpoint_name(step: int) -> str:
    """Folder name of the checkpoint after ``step`` optimisation steps.

    Args:
        step: global step (>= 0).

    Returns:
        ``"step_XXXXXXXX"`` (zero-padded so names sort by step).

    Raises:
        ValueError: if ``step`` is negative or not an int.

    Example:
        >>> checkpoint_name(42)
        'step_00000042'
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step: expected a non-negative int, got {step!r}")
    return f"step_{step:08d}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Write a file atomically: ``write(tmp)`` into a temporary file in the same folder, fsync, ``os.replace``.

    Args:
        path: the final file.
        write: callable that writes the complete content to the path it is given.

    Returns:
        The final path.

    Raises:
        Exception: whatever ``write`` raises (the temporary file is removed and ``path`` is untouched).

    Example:
        >>> import tempfile
        >>> p = atomic_write(Path(tempfile.mkdtemp()) / "a.txt", lambda t: t.write_text("hi"))
        >>> p.read_text()
        'hi'
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{_TMP_PREFIX}{final.name}-{os.getpid()}")
    try:
        write(tmp)
        _fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(final.parent)
    return final


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel``/``DataParallel`` wrapper (or ``model`` itself).

    Args:
        model: a module, possibly wrapped.

    Returns:
        The underlying module.
    """
    while hasattr(model, "module") and isinstance(model.module, nn.Module) and type(model).__name__ in (
        "DistributedDataParallel", "DataParallel"):
        model = model.module
    return model


def _model_config_dict(model: nn.Module) -> dict[str, Any] | None:
    cfg = getattr(model, "config", None)
    to_dict = getattr(cfg, "to_dict", None)
    return to_dict() if callable(to_dict) else None


def _step_of(path: Path) -> int | None:
    m = _NAME_RE.match(path.name)
    return int(m.group(1)) if m else None


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """Complete checkpoint folders in ``directory``, oldest first.

    Args:
        directory: a ``checkpoints`` folder (or a run folder that contains one).

    Returns:
        The ``step_*`` folders that hold both the weights and the state file, sorted by step
        (temporary and trash folders are ignored).
    """
    d = Path(directory)
    if (d / CHECKPOINT_DIRNAME).is_dir():
        d = d / CHECKPOINT_DIRNAME
    if not d.is_dir():
        return []
    found = [
        p for p in d.iterdir()
        if p.is_dir() and _step_of(p) is not None and (p / WEIGHTS_NAME).is_file() and (p / STATE_NAME).is_file()
    ]
    return sorted(found, key=lambda p: _step_of(p) or 0)


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The checkpoint with the highest step in ``directory``.

    Args:
        directory: a ``checkpoints`` folder or a run folder.

    Returns:
        Its folder, or ``None`` when there is none.
    """
    found = list_checkpoints(directory)
    return found[-1] if found else None


def resolve_checkpoint(spec: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Turn a ``--resume`` argument into a checkpoint folder.

    Every candidate is checked with :func:`verify_checkpoint` before it is returned. For ``"auto"``
    and a run folder a damaged checkpoint is skipped with a :class:`UserWarning` naming it and the
    problem, and the newest intact one is returned; a checkpoint folder given explicitly is not
    replaced by another one.

    Args:
        spec: ``"auto"`` (the latest intact checkpoint of ``out_dir``, or ``None`` when it has none — a
            fresh start), a checkpoint folder, a file inside one (``model.safetensors``/``state.pt``), or a
            run folder (its latest intact checkpoint).
        out_dir: the run folder, used by ``"auto"``.

    Returns:
        The checkpoint folder, or ``None`` for ``"auto"`` without any checkpoint.

    Raises:
        ValueError: for ``"auto"`` without ``out_dir``.
        FileNotFoundError: if a given path holds no complete checkpoint.
        CheckpointError: if an explicitly given checkpoint is damaged, or every checkpoint of the run
            folder is.
    """
    if str(spec) == "auto":
        if out_dir is None:
            raise ValueError("resume='auto' needs the run folder (out_dir)")
        return _newest_intact(out_dir, "resume='auto'")
    p = Path(spec)
    if p.is_file() and p.name in (WEIGHTS_NAME, STATE_NAME, MODEL_CONFIG_NAME):
        p = p.parent
    if p.is_dir() and (p / WEIGHTS_NAME).is_file() and (p / STATE_NAME).is_file():
        verify_checkpoint(p)
        return p
    if p.is_dir():
        latest = _newest_intact(p, f"resume={str(spec)!r}")
        if latest is not None:
            return latest
    raise FileNotFoundError(
        f"resume: {str(p)!r} is not a checkpoint folder (with {WEIGHTS_NAME} and {STATE_NAME}) nor a run folder "
        "containing one"
    )


def _newest_intact(directory: str | os.PathLike[str], what: str) -> Path | None:
    found = list_checkpoints(directory)
    skipped: list[str] = []
    for cand in reversed(found):
        try:
            verify_checkpoint(cand)
        except CheckpointError as exc:
            skipped.append(cand.name)
            warnings.warn(f"{what}: skipping damaged checkpoint {cand.name}: {exc}", UserWarning, stacklevel=3)
            continue
        if skipped:
            warnings.warn(f"{what}: resuming from {cand.name}, the newest intact checkpoint (skipped "
                          f"{', '.join(skipped)})", UserWarning, stacklevel=3)
        return cand
    if found:
        raise CheckpointError(f"{what}: all {len(found)} checkpoints in {str(Path(directory))!r} are damaged "
                              f"({', '.join(skipped)}); delete them to start afresh, or resume from a copy")
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _checkpoint_folder(path: str | os.PathLike[str]) -> Path:
    """The checkpoint folder of ``path`` (a folder or a file in it), with both of its files present."""
    p = Path(path)
    if p.is_file():
        p = p.parent
    for name in (WEIGHTS_NAME, STATE_NAME):
        if not (p / name).is_file():
            raise FileNotFoundError(f"checkpoint: {str(p / name)!r} not found")
    return p


def _read_state(path: Path, map_location: str | torch.device, *, mmap: bool) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"checkpoint: {str(path)!r} is truncated or corrupt (not a readable torch.save "
                              f"archive: {_first_line(exc)})") from exc
    if bad is not None:
        raise CheckpointError(f"checkpoint: {str(path)!r} is corrupt (member {bad!r} fails its CRC check)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as exc:  # unpickling errors come as RuntimeError, UnpicklingError, EOFError, ...
        raise CheckpointError(f"checkpoint: {str(path)!r} cannot be loaded ({_first_line(exc)})") from exc
    if not isinstance(state, dict) or "step" not in state:
        raise CheckpointError(f"checkpoint: {str(path)!r} holds no training state (expected a dict with 'step', "
                              f"got {type(state).__name__})")
    return state


def _check_weights(p: Path, state: Mapping[str, Any]) -> None:
    weights = p / WEIGHTS_NAME
    recorded = state.get("weights_sha256")
    if recorded and recorded != sha256_file(weights):
        raise CheckpointError(f"checkpoint: {str(weights)!r} does not match the SHA-256 recorded in {STATE_NAME} "
                              "(truncated, corrupt or replaced)")
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="pt") as fh:
            fh.keys()
    except Exception as exc:  # safetensors' own SafetensorError
        raise CheckpointError(f"checkpoint: {str(weights)!r} is not a readable safetensors file "
                              f"({_first_line(exc)})") from exc


def _read_model_config(p: Path) -> dict[str, Any] | None:
    path = p / MODEL_CONFIG_NAME
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint: {str(path)!r} is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint: {str(path)!r} is not a JSON object")
    return meta.get("config")


def verify_checkpoint(path: str | os.PathLike[str]) -> None:
    """Check a checkpoint folder without materialising its tensors (see the module docstring).

    Args:
        path: a checkpoint folder, or a file inside one.

    Raises:
        FileNotFoundError: if ``model.safetensors`` or ``state.pt`` is missing.
        CheckpointError: if a file is truncated or corrupt, or the weights do not match the SHA-256
            recorded in ``state.pt`` (one line naming the file).
    """
    p = _checkpoint_folder(path)
    state = _read_state(p / STATE_NAME, "cpu", mmap=True)
    _check_weights(p, state)
    _read_model_config(p)


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> int:
    """Delete temporary/trash folders and files left by an interrupted save.

    Args:
        directory: a ``checkpoints`` folder.

    Returns:
        The number of entries removed.
    """
    d = Path(directory)
    if not d.is_dir():
        return 0
    n = 0
    for p in d.iterdir():
        if p.name.startswith((_TMP_PREFIX, _TRASH_PREFIX)):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            n += 1
    return n


def _remove_dir(path: Path) -> None:
    """Rename out of the checkpoint namespace first, then delete (never a half-deleted ``step_*``)."""
    trash = path.with_name(f"{_TRASH_PREFIX}{path.name}-{os.getpid()}")
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def prune_checkpoints(directory: str | os.PathLike[str], keep_last: int) -> list[Path]:
    """Delete all but the ``keep_last`` newest checkpoints.

    Args:
        directory: a ``checkpoints`` folder.
        keep_last: how many to keep (``<= 0`` keeps all).

    Returns:
        The folders removed.
    """
    if keep_last <= 0:
        return []
    found = list_checkpoints(directory)
    old = found[:-keep_last]
    for p in old:
        _remove_dir(p)
    return old


def save_checkpoint(
    directory: str | os.PathLike[str],
    step: int,
    *,
    model: nn.Module,
    state: Mapping[str, Any],
    keep_last: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write checkpoint ``step`` atomically (see the module docstring), then prune old ones.

    Args:
        directory: the ``checkpoints`` folder (created).
        step: the global step the checkpoint is taken after.
        model: the model (a DDP wrapper is unwrapped); its ``state_dict`` goes to safetensors and its
            ``model.config`` (if any) to ``config.json``.
        state: the training state (tensors, numbers, strings, lists, dicts only, so that it loads with
            ``weights_only=True``); ``step`` and the weights' SHA-256 are added.
        keep_last: keep only this many newest checkpoints afterwards (``<= 0`` keeps all).
        extra: JSON metadata stored in ``config.json`` under ``"extra"``.

    Returns:
        The checkpoint folder.

    Raises:
        Exception: whatever writing raises; the temporary folder is removed and existing checkpoints are
            untouched.
    """
    from safetensors.torch import save_file

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(step)
    final = d / name
    tmp = d / f"{_TMP_PREFIX}{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    net = unwrap_model(model)
    try:
        tmp.mkdir()
        weights = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
        save_file(weights, str(tmp / WEIGHTS_NAME), metadata={"format": _FORMAT, "step": str(step)})
        _fsync_file(tmp / WEIGHTS_NAME)
        meta: dict[str, Any] = {"format": _FORMAT, "step": step}
        cfg = _model_config_dict(net)
        if cfg is not None:
            meta["config"] = cfg
        if extra:
            meta["extra"] = dict(extra)
        (tmp / MODEL_CONFIG_NAME).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        _fsync_file(tmp / MODEL_CONFIG_NAME)
        full_state = dict(state)
        full_state["step"] = step
        full_state["format"] = _FORMAT
        full_state["weights_sha256"] = sha256_file(tmp / WEIGHTS_NAME)
        torch.save(full_state, tmp / STATE_NAME)
        _fsync_file(tmp / STATE_NAME)
        _fsync_dir(tmp)
        if final.exists():  # re-saving the same step (e.g. a resumed run stopping where it started)
            _remove_dir(final)
        os.replace(tmp, final)
        _fsync_dir(d)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune_checkpoints(d, keep_last)
    return final


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: its folder.
        step: the global step it was taken after.
        weights: the model ``state_dict`` (CPU or ``map_location`` tensors).
        state: the training state written by the trainer.
        model_config: the model config dict (``MBnetConfig.to_dict()``), or ``None``.
    """

    path: Path
    step: int
    weights: dict[str, Tensor]
    state: dict[str, Any]
    model_config: dict[str, Any] | None


def load_checkpoint(
    path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu", verify: bool = True
) -> Checkpoint:
    """Read a checkpoint folder (``weights_only`` unpickling; safetensors weights).

    Args:
        path: a checkpoint folder, or a file inside one.
        map_location: device for the tensors.
        verify: check the weights' SHA-256 against the one recorded in the state file.

    Returns:
        The :class:`Checkpoint`.

    Raises:
        FileNotFoundError: if a file is missing.
        CheckpointError: (a ``ValueError``) if a file is truncated or corrupt, or the weights do not match
            the state file; one line naming the file.
    """
    from safetensors.torch import load_file

    p = _checkpoint_folder(path)
    state = _read_state(p / STATE_NAME, map_location, mmap=False)
    if verify:
        _check_weights(p, state)
    try:
        weights = load_file(str(p / WEIGHTS_NAME), device=str(map_location))
    except Exception as exc:  # safetensors' own SafetensorError
        raise CheckpointError(f"checkpoint: {str(p / WEIGHTS_NAME)!r} is not a readable safetensors file "
                              f"({_first_line(exc)})") from exc
    cfg = _read_model_config(p)
    return Checkpoint(p, int(state.get("step", _step_of(p) or 0)), weights, state, cfg)


def capture_rng_state() -> dict[str, Any]:
    """Snapshot of the Python, NumPy, torch CPU and CUDA global RNGs (``weights_only``-loadable).

    Returns:
        A dict for :func:`restore_rng_state`.
    """
    py = random.getstate()
    np_state = np.random.get_state()
    out: dict[str, Any] = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": {"name": str(np_state[0]), "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the RNGs from :func:`capture_rng_state` output.

    Args:
        state: the snapshot.
    """
    if "python" in state:
        v, internal, gauss = state["python"]
        random.setstate((v, tuple(internal), gauss))
    if "numpy" in state:
        n = state["numpy"]
        keys = n["keys"].cpu().numpy().astype(np.uint32)
        np.random.set_state((n["name"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
