"""Typed recipe configs: dataclass schemas loaded from YAML/JSON files with dotted command-line overrides.

The module is generic (it knows nothing about training): any tree of dataclasses is a schema. Values
from a file or from ``key=value`` overrides are checked against the field annotations, coerced where
unambiguous (``"1e-4"`` for a ``float`` field, a list for a ``tuple`` field) and rejected otherwise
with a :class:`ConfigError` that names the dotted key::

    cfg = load_config(TrainRunConfig, "recipes/configs/cpu_small.yaml",
                      overrides=["train.steps=200", "data.layout=vimeo-septuplet"])

Supported annotations: ``bool``, ``int``, ``float``, ``str``, ``Literal[...]``, ``X | None``,
``list[X]``, ``tuple[X, ...]``, ``dict[str, Any]`` (free-form, not checked further), ``Any`` and
nested dataclasses. Missing keys keep the dataclass defaults; unknown keys are errors (with a
"did you mean" hint).

**Why not OmegaConf or pydantic.** Neither is a dependency (nor installed in the project's environment),
and neither would delete most of this loader: OmegaConf's structured configs do not accept ``Literal``
annotations (only ``Enum``), which every section of the library uses, so its dataclasses could not be the
schema as they are, and its unknown-key errors carry no suggestion; pydantic's ``TypeAdapter`` would replace
:func:`_coerce` (about 90 lines) but not the dotted overrides, ``leaf_fields`` (the CLI flags), the
YAML/JSON reading or the one-line errors with "did you mean" (pydantic reports an unknown key as "Extra
inputs are not permitted" and a bad value as a multi-line list), which would need the same wrapping code.
So the loader stays, and the schema sections *are* the library's dataclasses instead of mirrors of them:
:class:`LossSection` is a :class:`~stvsr_blocks.losses.LossConfig` (plus ``teacher``),
:class:`SyntheticSection` a :class:`~stvsr_blocks.data.synthetic.SyntheticVideoConfig` (plus ``n_clips``),
``data.photos`` a :class:`~stvsr_blocks.data.photo.PhotoVideoConfig`, and :class:`ModelSection` resolves to
a :class:`~stvsr_blocks.models.MBnetConfig` (checked at load time, no model built). Subclassing keeps every
key path of earlier files, run folders and command lines.

The second half of the module holds the schema of ``recipes/mbnet.py train``
(:class:`TrainRunConfig` and its sections); the other subcommands may reuse its sections
(:class:`ModelSection`, :class:`DataSection`). Example YAML (``recipes/configs/cpu_small.yaml``)::

    name: cpu_small
    model: {preset: tiny, variant: mbnet}
    data: {layout: synthetic, lr_patch: 16, synthetic: {n_clips: 256, height: 96, width: 96}}
    train: {steps: 2000, batch_size: 4, lr: 2.0e-4}
    log: {every: 20, val_every: 200, ckpt_every: 200}
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from stvsr_blocks.data.photo import PhotoVideoConfig
from stvsr_blocks.data.synthetic import SyntheticVideoConfig
from stvsr_blocks.losses import LossConfig

__all__ = [
    "ConfigError",
    "config_from_dict",
    "config_to_dict",
    "read_config_file",
    "parse_override",
    "apply_overrides",
    "load_config",
    "save_config",
    "leaf_fields",
    "ModelSection",
    "SyntheticSection",
    "DataSection",
    "TeacherSection",
    "LossSection",
    "TrainSection",
    "LogSection",
    "DDPSection",
    "TrainRunConfig",
]

T = TypeVar("T")

_NONE_STRINGS = ("none", "null", "~")


class ConfigError(ValueError):
    """A config file or override does not fit the schema (the message names the dotted key)."""


def _one_line_parse_error(exc: Exception) -> str:
    """A JSON/YAML parse error as one line: the problem and where (YAML's own text spans several lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(exc).split())


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception as exc:  # pragma: no cover - a schema bug, not a user error
        raise TypeError(f"cannot resolve the annotations of {cls.__name__}: {exc}") from exc


def _where(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _unknown_key_error(key: str, prefix: str, valid: Iterable[str]) -> ConfigError:
    valid = sorted(valid)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {_where(prefix, close[0])!r}?)" if close else ""
    section = f"section {prefix!r}" if prefix else "the top level"
    return ConfigError(f"unknown config key {_where(prefix, key)!r}{hint}; valid keys in {section}: {', '.join(valid)}")


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "None"
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert ``value`` to annotation ``tp``; raise ConfigError naming ``where``."""
    if tp is Any:
        return value
    if _is_union(tp):
        args = get_args(tp)
        if value is None or (isinstance(value, str) and value.lower() in _NONE_STRINGS and type(None) in args):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        names = " or ".join(_type_name(a) for a in args)
        raise ConfigError(f"{where}: expected {names}, got {type(value).__name__} {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected None, got {value!r}")
    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        if value in choices and not (isinstance(value, bool) and not any(isinstance(c, bool) for c in choices)):
            return value
        raise ConfigError(f"{where}: expected one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping (section {tp.__name__}), got {type(value).__name__} {value!r}")
        return config_from_dict(tp, value, prefix=where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off"):
            return value.lower() in ("true", "yes", "on")
        raise ConfigError(f"{where}: expected a bool (true/false), got {type(value).__name__} {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an int, got {type(value).__name__} {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        raise ConfigError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        args = get_args(tp)
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected a list of {len(args)} items, got {len(value)}: {value!r}")
            items = [_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        else:
            item_tp = args[0] if args else Any
            items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__} {value!r}")
        return {str(k): v for k, v in value.items()}
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: unsupported annotation {tp!r} for value {value!r}")


def config_from_dict(cls: type[T], data: Mapping[str, Any], *, prefix: str = "") -> T:
    """Build a dataclass config from a (nested) mapping, checking every key and value.

    Args:
        cls: the dataclass schema.
        data: the values; missing keys keep their defaults.
        prefix: dotted path of ``data`` inside a larger config (for error messages).

    Returns:
        An instance of ``cls``.

    Raises:
        TypeError: if ``cls`` is not a dataclass.
        ConfigError: on an unknown key (the message names it and lists the valid ones) or a value of the
            wrong type, or if the dataclass' own validation rejects the values.

    Example:
        >>> @dataclasses.dataclass
        ... class Opt:
        ...     lr: float = 0.1
        ...     steps: int = 10
        >>> config_from_dict(Opt, {"lr": "1e-4"})
        Opt(lr=0.0001, steps=10)
    """
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"cls: expected a dataclass type, got {cls!r}")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(data).__name__} {data!r}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise _unknown_key_error(str(key), prefix, names)
        kwargs[key] = _coerce(value, hints[key], _where(prefix, key))
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{prefix or cls.__name__}: {exc}") from exc


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain, JSON/YAML-able data of a dataclass config (tuples become lists).

    Args:
        cfg: a dataclass instance.

    Returns:
        A nested dict.

    Raises:
        TypeError: if ``cfg`` is not a dataclass instance.
    """
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"cfg: expected a dataclass instance, got {type(cfg).__name__}")

    def plain(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(cfg))


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or JSON (``.json``) config file.

    Args:
        path: the file.

    Returns:
        The top-level mapping (empty for an empty file).

    Raises:
        FileNotFoundError: if the file does not exist.
        ConfigError: if it cannot be parsed or its top level is not a mapping.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config: no such file {str(p)!r}")
    text = p.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"config {str(p)!r}: cannot parse: {_one_line_parse_error(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {str(p)!r}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """Split a ``dotted.key=value`` override; the value is parsed as YAML (``3``, ``true``, ``[1, 2]``, ``null``).

    Args:
        text: the override.

    Returns:
        ``(key, value)``.

    Raises:
        ConfigError: if there is no ``=`` or the key is empty.

    Example:
        >>> parse_override("train.steps=200")
        ('train.steps', 200)
    """
    if not isinstance(text, str) or "=" not in text:
        raise ConfigError(f"override: expected 'dotted.key=value', got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override: empty key or key part in {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def _field_type(cls: type, name: str) -> Any:
    return _hints(cls)[name]


def _dataclass_of(tp: Any) -> type | None:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    if _is_union(tp):
        for a in get_args(tp):
            if dataclasses.is_dataclass(a) and isinstance(a, type):
                return a
    return None


def _is_free_mapping(tp: Any) -> bool:
    if tp is Any or tp is dict or get_origin(tp) is dict:
        return True
    return _is_union(tp) and any(_is_free_mapping(a) for a in get_args(tp) if a is not type(None))


def apply_overrides(
    data: Mapping[str, Any], overrides: Iterable[str | tuple[str, Any]], cls: type | None = None
) -> dict[str, Any]:
    """Apply dotted overrides to a nested mapping (a copy), checking keys against a schema.

    Args:
        data: the mapping read from a file (not modified).
        overrides: ``"a.b=value"`` strings or ``(key, value)`` pairs, applied in order.
        cls: the dataclass schema used to reject unknown keys early (``None`` skips the check; the
            final :func:`config_from_dict` still checks). Keys below a free-form ``dict`` field are
            accepted as they are.

    Returns:
        The updated nested dict.

    Raises:
        ConfigError: on a malformed override or an unknown key.

    Example:
        >>> apply_overrides({"train": {"steps": 10}}, ["train.steps=20", "train.amp=bf16"])
        {'train': {'steps': 20, 'amp': 'bf16'}}
    """
    out = _deep_copy(data)
    for item in overrides:
        key, value = parse_override(item) if isinstance(item, str) else (str(item[0]), item[1])
        parts = key.split(".")
        node: dict[str, Any] = out
        schema: type | None = cls
        free = False
        for depth, part in enumerate(parts):
            prefix = ".".join(parts[:depth])
            if schema is not None and not free:
                names = {f.name for f in dataclasses.fields(schema) if f.init}
                if part not in names:
                    raise _unknown_key_error(part, prefix, names)
                tp = _field_type(schema, part)
                if depth < len(parts) - 1:
                    sub = _dataclass_of(tp)
                    if sub is None and not _is_free_mapping(tp):
                        raise ConfigError(f"override {key!r}: {_where(prefix, part)!r} is a value, not a section")
                    free = sub is None
                    schema = sub
            if depth == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return out


def _deep_copy(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_deep_copy(v) for v in data]
    return data


def load_config(
    cls: type[T],
    path: str | os.PathLike[str] | None = None,
    overrides: Iterable[str | tuple[str, Any]] = (),
    *,
    base: Mapping[str, Any] | None = None,
) -> T:
    """Load a config: defaults, then ``base``, then the file, then the overrides.

    Args:
        cls: the dataclass schema.
        path: a YAML/JSON file, or ``None`` for the defaults.
        overrides: dotted ``key=value`` overrides (see :func:`apply_overrides`).
        base: a mapping applied before the file (e.g. the config stored in a checkpoint).

    Returns:
        The config.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ConfigError: on a parse error, an unknown key or a bad value.
    """
    data: dict[str, Any] = _deep_copy(base) if base else {}
    if path is not None:
        data = _deep_merge(data, read_config_file(path))
    data = apply_overrides(data, overrides, cls)
    return config_from_dict(cls, data)


def _deep_merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = _deep_copy(a)
    for k, v in b.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = _deep_copy(v)
    return out


def save_config(cfg: Any, path: str | os.PathLike[str]) -> Path:
    """Write a config as YAML (``.yaml``/``.yml``) or JSON (otherwise), atomically.

    Args:
        cfg: a dataclass instance or a mapping.
        path: the destination.

    Returns:
        The path written.
    """
    p = Path(path)
    data = dict(cfg) if isinstance(cfg, Mapping) else config_to_dict(cfg)
    if p.suffix.lower() in (".yaml", ".yml"):
        text = yaml.safe_dump(data, sort_keys=False)
    else:
        text = json.dumps(data, indent=2)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)
    return p


def leaf_fields(cls: type, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf field of a (nested) dataclass schema, e.g. for generating ``--section.key`` flags.

    Args:
        cls: the dataclass schema.
        prefix: dotted prefix of ``cls`` (used in recursion).

    Returns:
        ``(dotted_key, annotation, default)`` for each non-dataclass field, depth first in declaration
        order (the default is ``dataclasses.MISSING`` when there is none).

    Raises:
        TypeError: if ``cls`` is not a dataclass.
    """
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"cls: expected a dataclass type, got {cls!r}")
    hints = _hints(cls)
    out: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        key = _where(prefix, f.name)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            out.extend(leaf_fields(tp, key))
        else:
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                default = f.default_factory()  # type: ignore[misc]
            else:
                default = dataclasses.MISSING
            out.append((key, tp, default))
    return out


# ---------------------------------------------------------------------------------------------------
# The train schema.


def _check_positive(obj: Any, *names: str, allow_zero: bool = False) -> None:
    for name in names:
        v = getattr(obj, name)
        if v is None:
            continue
        if (v < 0) if allow_zero else (v <= 0):
            raise ConfigError(f"{name}: expected a {'non-negative' if allow_zero else 'positive'} value, got {v!r}")


@dataclass
class ModelSection:
    """Which model to train: a preset and variant of :mod:`stvsr_blocks.models`, plus config overrides.

    :meth:`model_config` resolves the three into the model's own :class:`~stvsr_blocks.models.MBnetConfig`
    without building a model (:func:`stvsr_blocks.models.variant_config`); the section checks them when
    it is created, so a bad override is a load-time :class:`ConfigError` naming ``model.overrides``, and
    the recipe builds the model once, from that config.

    Attributes:
        preset: base preset of :mod:`stvsr_blocks.models`: ``"tiny"``, ``"baseline"`` (≈14.5M) or
            ``"paper"`` (≈30.8M).
        variant: ablation variant name (a key of :data:`stvsr_blocks.models.VARIANTS`; ``"mbnet"`` is
            the full model).
        overrides: :class:`~stvsr_blocks.models.MBnetConfig` fields merged over the preset/variant
            (nested block configs as mappings, e.g. ``{vsr: {D: 4}, iterations: 3}``), checked against
            ``MBnetConfig``.
    """

    preset: Literal["tiny", "baseline", "paper"] = "baseline"
    variant: str = "mbnet"
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.model_config()

    def model_config(self) -> Any:
        """The :class:`~stvsr_blocks.models.MBnetConfig` this section describes (no model is built).

        Returns:
            The config.

        Raises:
            ConfigError: on an unknown variant, or an override that ``MBnetConfig`` rejects.
        """
        from stvsr_blocks.models import VARIANTS, MBnetConfig, variant_config

        if self.variant not in VARIANTS:
            raise ConfigError(f"model.variant: expected one of {sorted(VARIANTS)}, got {self.variant!r}")
        cfg = variant_config(self.variant, base=self.preset)
        if not self.overrides:
            return cfg
        try:
            return MBnetConfig.from_dict(_deep_merge(cfg.to_dict(), self.overrides))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"model.overrides: {exc}") from exc


@dataclass(frozen=True)
class SyntheticSection(SyntheticVideoConfig):
    """Built-in synthetic training/validation videos: :class:`~stvsr_blocks.data.synthetic.SyntheticVideoConfig`
    (every field of it, inherited, not copied) plus the number of training clips.

    Attributes:
        n_clips: number of training clips (clip ``i`` uses seed ``seed + i``; ``seed`` is the first
            training clip's, validation clips come from the reserved held-out range).
        frames: frames per clip (>= the 3-frame training window; default 3 here, 7 in
            ``SyntheticVideoConfig``).
    """

    frames: int = 3
    n_clips: int = 1024

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_positive(self, "n_clips")
        if self.frames < 3:
            raise ConfigError(f"frames: expected >= 3 (a training window is 3 HR frames), got {self.frames}")

    def video_config(self) -> SyntheticVideoConfig:
        """The clip parameters alone (a plain ``SyntheticVideoConfig``, ``n_clips`` dropped).

        Returns:
            The config.
        """
        return SyntheticVideoConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(SyntheticVideoConfig)})


@dataclass
class DataSection:
    """Training and validation data.

    Attributes:
        layout: ``"synthetic"`` (built-in sinusoid textures, no files), ``"photos"`` (built-in photo-textured
            video: the scikit-image photographs, or a folder of stills given as ``root``) or a dataset layout of
            :func:`stvsr_blocks.data.datasets.open_dataset` (``"vimeo-septuplet"``, ``"vimeo-triplet"``,
            ``"vid4"``, ``"frames"``, ...).
        root: dataset root (required to train unless ``layout`` is ``"synthetic"``; checked when the data
            is opened so that presets such as ``mbnet_paper.yaml`` load without one).
        split: split of the training data for layouts that have one (Vimeo: ``"train"``).
        lr_patch: LR training patch size (paper 32; the HR patch is ``lr_patch * scale``).
        scale: spatial scale factor.
        kernel: bicubic kernel that makes the LR frames (``"matlab"``, ``"pil"``, ``"torch"``).
        augment: random flips, 90° rotations and temporal reversal.
        num_workers: ``DataLoader`` worker processes per rank.
        synthetic: options of the synthetic data.
        photos: clip options of the photo-textured data (``layout: photos``;
            :class:`stvsr_blocks.data.photo.PhotoVideoConfig`, whose ``times`` the training windows replace).
        n_clips: rendered training clips per epoch for ``layout: photos`` (clip ``i`` of the run uses seed
            ``photos.seed + i``).
        random_time: ``layout: photos`` renders each training window at times ``(0, t, 1)`` with a random
            ``t`` (so the model interpolates at any time); ``False``: ``t = 0.5``.
        holdout: own footage (``layout: video`` or ``frames``): every 3-frame window of a clip is a training
            sample, except the last ``holdout`` fraction of each clip's frames, which is the validation data
            (:class:`stvsr_blocks.data.footage.ClipWindows`).
        photos_ratio: mix photo-textured clips into own-footage training: this fraction of the samples of an
            epoch are rendered photo windows (0 = footage only).
        val_layout: layout of the validation clips (``None``: ``"synthetic"`` held-out clips for synthetic
            training, the ``val_split`` of the training root otherwise).
        val_root: root of the validation data (``None``: ``root``).
        val_split: split of the validation data for layouts that have one.
        val_clips: number of validation clips (0 disables validation).
        val_crop: centre crop of the HR validation frames (``None``: whole frames).
    """

    layout: str = "synthetic"
    root: str | None = None
    split: str | None = "train"
    lr_patch: int = 32
    scale: int = 4
    kernel: Literal["matlab", "pil", "torch"] = "matlab"
    augment: bool = True
    num_workers: int = 2
    synthetic: SyntheticSection = field(default_factory=SyntheticSection)
    photos: PhotoVideoConfig = field(default_factory=PhotoVideoConfig)
    n_clips: int = 100_000
    random_time: bool = True
    holdout: float = 0.1
    photos_ratio: float = 0.0
    val_layout: str | None = None
    val_root: str | None = None
    val_split: str | None = "test"
    val_clips: int = 8
    val_crop: int | None = 256

    def __post_init__(self) -> None:
        _check_positive(self, "lr_patch", "scale", "val_crop", "n_clips")
        _check_positive(self, "num_workers", "val_clips", allow_zero=True)
        for name in ("holdout", "photos_ratio"):
            v = getattr(self, name)
            if not 0 <= v < 1:
                raise ConfigError(f"{name}: expected a fraction in [0, 1), got {v!r}")


@dataclass
class TeacherSection:
    """The frozen RAFT teacher of the supervised flow loss (used only when ``loss.lambda_b > 0``).

    Attributes:
        model: ``"small"`` or ``"large"`` torchvision RAFT.
        weights: ``"default"`` (torchvision's weights from the local torch hub cache, never downloaded),
            a path to a state-dict file, or ``None`` for a random network (plumbing tests only).
        num_flow_updates: RAFT refinement iterations.
    """

    model: Literal["small", "large"] = "small"
    weights: str | None = "default"
    num_flow_updates: int = 12


@dataclass
class LossSection(LossConfig):
    """The loss: :class:`stvsr_blocks.losses.LossConfig` (every field of it, inherited, not copied; defaults =
    the paper preset) plus the RAFT teacher the recipe builds for it.

    A field added to ``LossConfig`` is a config key, a ``--loss.<field>`` flag and a ``--set`` override with
    no edit here.

    Attributes:
        teacher: the RAFT teacher (for ``lambda_b > 0`` on data without exact flows).
    """

    teacher: TeacherSection = field(default_factory=TeacherSection)

    def loss_config(self) -> LossConfig:
        """The plain :class:`~stvsr_blocks.losses.LossConfig` (``teacher`` dropped) for ``MBnetLoss``.

        Returns:
            The config.
        """
        return LossConfig(**self.loss_config_kwargs())

    def loss_config_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :class:`stvsr_blocks.losses.LossConfig` (everything but ``teacher``).

        Returns:
            The mapping.
        """
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(LossConfig)}


@dataclass
class TrainSection:
    """Optimisation.

    Attributes:
        steps: total optimisation steps (the schedule's length).
        batch_size: **global** batch size; each of ``N`` DDP processes loads ``batch_size / N`` samples
            (must divide).
        lr: learning rate (paper 1e-4).
        optimizer: ``"adam"`` (paper) or ``"adamw"``.
        betas: Adam betas.
        weight_decay: weight decay.
        scheduler: ``"constant"`` (default), ``"cosine"`` (to ``min_lr`` at ``steps``) or ``"multistep"``
            (multiply by ``gamma`` at each of ``milestones``).
        milestones: steps of the ``"multistep"`` schedule.
        gamma: factor of the ``"multistep"`` schedule.
        min_lr: final learning rate of the ``"cosine"`` schedule.
        warmup_steps: linear warm-up steps before the schedule (0 = none).
        grad_clip: clip the global gradient norm to this value (0 = off).
        amp: mixed precision: ``"none"``, ``"bf16"`` or ``"fp16"`` (``torch.autocast``; a ``GradScaler``
            for fp16 on CUDA).
        device: ``"auto"`` (``cuda:LOCAL_RANK`` when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        seed: seed of the model initialisation, the data order and the augmentation.
        deterministic: ask PyTorch for deterministic algorithms (slower on GPU).
        stop_after: stop (with a checkpoint) once this global step is reached although the schedule runs to
            ``steps`` (for time-boxed jobs; resume continues exactly). ``None``: run to ``steps``.
        budget_s: wall-clock budget of the run's training loop in seconds (validation and checkpoints
            included, model building and data set-up not; a resumed run counts the time of its earlier
            invocations, the ``elapsed_s`` of ``log.csv``). When it is spent, training ends as at ``steps``:
            a checkpoint, ``final/`` and the last log row. ``steps`` stays the upper bound and, unless
            ``schedule_by_time``, the schedule's length: set it to an estimate of the steps the budget allows.
            ``None``: no budget.
        schedule_by_time: with ``budget_s``, the ``"cosine"`` schedule progresses by elapsed time / ``budget_s``
            instead of step / ``steps`` (warm-up stays in steps), so it reaches ``min_lr`` exactly when the
            budget ends whatever the throughput; ``steps`` is then only a cap (set it high). The learning
            rates then depend on the machine's speed, so a resumed run is no longer bit-identical to an
            uninterrupted one. Needs ``budget_s`` and the ``"cosine"`` or ``"constant"`` scheduler.
        channels_last: keep the model's weights (and so most activations) in ``torch.channels_last`` memory
            format; faster for convolutions on some GPUs under AMP, measure before enabling
            (:mod:`stvsr_blocks.recipe.device` does).
    """

    steps: int = 100_000
    batch_size: int = 16
    lr: float = 1e-4
    optimizer: Literal["adam", "adamw"] = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    scheduler: Literal["constant", "cosine", "multistep"] = "constant"
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.5
    min_lr: float = 0.0
    warmup_steps: int = 0
    grad_clip: float = 0.0
    amp: Literal["none", "bf16", "fp16"] = "none"
    device: str = "auto"
    seed: int = 0
    deterministic: bool = False
    stop_after: int | None = None
    budget_s: float | None = None
    schedule_by_time: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        _check_positive(self, "steps", "batch_size", "lr", "stop_after", "budget_s")
        if self.schedule_by_time and self.budget_s is None:
            raise ConfigError("schedule_by_time: expected train.budget_s to be set (the schedule runs over the "
                              "budget), got budget_s=None")
        if self.schedule_by_time and self.scheduler == "multistep":
            raise ConfigError("schedule_by_time: expected scheduler 'cosine' or 'constant' (multistep milestones "
                              "are steps), got 'multistep'")
        _check_positive(self, "weight_decay", "gamma", "min_lr", "warmup_steps", "grad_clip", "seed", allow_zero=True)
        if any(m <= 0 for m in self.milestones):
            raise ConfigError(f"milestones: expected positive steps, got {self.milestones!r}")


@dataclass
class LogSection:
    """Logging, validation and checkpoint cadence (in optimisation steps).

    Attributes:
        every: log the (averaged) loss terms every this many steps.
        val_every: validate every this many steps (and at the end).
        ckpt_every: write a checkpoint every this many steps (and at the end / at ``stop_after``).
        keep_last: keep only this many newest checkpoints (0 keeps all).
        tensorboard: write TensorBoard event files (needs the ``tensorboard`` package).
        curves: draw ``curves.png`` (needs matplotlib).
    """

    every: int = 50
    val_every: int = 1000
    ckpt_every: int = 1000
    keep_last: int = 3
    tensorboard: bool = True
    curves: bool = True

    def __post_init__(self) -> None:
        _check_positive(self, "every", "val_every", "ckpt_every")
        _check_positive(self, "keep_last", allow_zero=True)


@dataclass
class DDPSection:
    """Distributed data parallel options (active under ``torchrun``).

    Attributes:
        backend: ``"auto"`` (``nccl`` on CUDA, ``gloo`` on CPU), ``"gloo"`` or ``"nccl"``.
        find_unused_parameters: passed to ``DistributedDataParallel`` (needed by variants with parameters
            that get no gradient).
    """

    backend: Literal["auto", "gloo", "nccl"] = "auto"
    find_unused_parameters: bool = False


@dataclass
class TrainRunConfig:
    """Everything ``recipes/mbnet.py train`` needs; stored as ``config.yaml`` in the run folder.

    Attributes:
        name: run name (default output folder ``runs/<name>``).
        model: the model.
        data: the data.
        loss: the loss.
        train: the optimisation.
        log: logging, validation and checkpoints.
        ddp: distributed options.
    """

    name: str = "mbnet"
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    loss: LossSection = field(default_factory=LossSection)
    train: TrainSection = field(default_factory=TrainSection)
    log: LogSection = field(default_factory=LogSection)
    ddp: DDPSection = field(default_factory=DDPSection)
