"""Report helpers shared by ``eval`` and ``demo``: atomic JSON, Markdown metric tables, figures.

Figures need matplotlib only for :func:`plot_curves`; crop grids are composed with Pillow.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

__all__ = [
    "METRIC_LABELS",
    "json_safe",
    "write_json",
    "write_text",
    "format_number",
    "metrics_table",
    "per_clip_table",
    "CURVE_PANELS",
    "plot_curves",
    "crop_grid",
]

#: Column titles of the metric keys produced by :mod:`stvsr_blocks.recipe.evaluate`.
METRIC_LABELS: dict[str, str] = {
    "psnr_y": "PSNR-Y (dB)",
    "ssim_y": "SSIM-Y",
    "psnr_rgb": "PSNR-RGB (dB)",
    "ssim_rgb": "SSIM-RGB",
    "ie": "IE",
    "niqe": "NIQE",
}


def json_safe(value: Any) -> Any:
    """Recursively replace non-finite floats by the strings ``"inf"``, ``"-inf"`` or ``"nan"``.

    Strict JSON has no infinity (PSNR of identical images is infinite).

    Args:
        value: nested dicts / lists / scalars.

    Returns:
        The same structure with only JSON-representable values.

    Example:
        >>> json_safe({"a": [1.0, float("inf")]})
        {'a': [1.0, 'inf']}
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Path):
        return str(value)
    return value


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented strict JSON, atomically (temporary file + rename).

    Args:
        path: destination file (parents are created).
        data: JSON-able data; non-finite floats are written as strings (:func:`json_safe`).

    Returns:
        The path.
    """
    text = json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n"
    return _atomic_write(Path(path), text.encode())


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write a text file atomically.

    Args:
        path: destination file (parents are created).
        text: the content.

    Returns:
        The path.
    """
    return _atomic_write(Path(path), text.encode())


def format_number(value: float | str | None, key: str = "") -> str:
    """Format a metric value for a table (PSNR/IE: 2 decimals, SSIM: 4 decimals).

    Args:
        value: the number (or ``None`` / a string such as ``"inf"``).
        key: the metric key; keys starting with ``ssim`` get 4 decimals.

    Returns:
        The formatted string (``"–"`` for ``None``).

    Example:
        >>> format_number(31.23456, "psnr_y"), format_number(0.912345, "ssim_y")
        ('31.23', '0.9123')
    """
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if not math.isfinite(value):
        return "inf" if value > 0 else ("nan" if math.isnan(value) else "-inf")
    return f"{value:.4f}" if key.startswith("ssim") else f"{value:.2f}"


def metrics_table(
    results: Sequence[Mapping[str, Any]], metrics: Sequence[str], groups: Sequence[str] = ("all", "vsr", "vfi")
) -> str:
    """A Markdown table with one row per (model, frame group) of overall results.

    Args:
        results: one entry per model with keys ``"model"`` (a mapping with ``"name"`` and
            ``"parameters"``) and ``"overall"`` (``{group: {metric: value}}``).
        metrics: metric keys to show, in order (see :data:`METRIC_LABELS`).
        groups: frame groups to show when present (``"all"``, ``"vsr"``, ``"vfi"``).

    Returns:
        The Markdown table (with a trailing newline).

    Example:
        >>> r = [{"model": {"name": "m", "parameters": 0}, "overall": {"all": {"psnr_y": 30.0}}}]
        >>> print(metrics_table(r, ["psnr_y"], ["all"]).splitlines()[2])
        | m | 0 | all | 30.00 |
    """
    head = ["model", "params", "frames"] + [METRIC_LABELS.get(m, m) for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        model = res["model"]
        for group in groups:
            vals = res["overall"].get(group)
            if vals is None:
                continue
            row = [str(model["name"]), f"{int(model.get('parameters', 0)):,}", group]
            row += [format_number(vals.get(m), m) for m in metrics]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def per_clip_table(result: Mapping[str, Any], metrics: Sequence[str], *, group: str = "all", max_rows: int = 50) -> str:
    """A Markdown table of one model's per-clip means for one frame group.

    Args:
        result: one model's entry (with ``"per_clip"``: ``{clip: {group: {metric: value}}}``).
        metrics: metric keys to show.
        group: the frame group.
        max_rows: show at most this many clips (a final row says how many were left out).

    Returns:
        The Markdown table.
    """
    head = ["clip", "frames"] + [METRIC_LABELS.get(m, m) for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    clips = list(result["per_clip"].items())
    for name, entry in clips[:max_rows]:
        vals = entry.get(group)
        if vals is None:
            continue
        row = [name, str(entry.get("n_frames", {}).get(group, ""))] + [format_number(vals.get(m), m) for m in metrics]
        lines.append("| " + " | ".join(row) + " |")
    if len(clips) > max_rows:
        lines.append(f"| … {len(clips) - max_rows} more clips (see the JSON) |" + " |" * (len(head) - 1))
    return "\n".join(lines) + "\n"


#: Panels of :func:`plot_curves`: title, y-axis label, log scale, and the history keys drawn in it.
CURVE_PANELS: tuple[tuple[str, str, bool, tuple[str, ...]], ...] = (
    ("training loss", "loss (log scale)", True,
     ("loss", "reconstruction", "flow_unsupervised", "flow_supervised", "flow_hr", "flow_lr", "intermediate")),
    ("validation PSNR", "PSNR (dB)", False, ("val_psnr", "val_psnr_mid")),
    ("throughput", "training samples / s", False, ("samples_per_s",)),
    ("learning rate", "learning rate (log scale)", True, ("lr",)),
    ("gradient norm", "gradient norm (before clipping)", True, ("grad_norm",)),
)

_CURVE_LABELS = {"loss": "total", "val_psnr": "all 3 frames", "val_psnr_mid": "interpolated frame"}


def plot_curves(history: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], *, title: str = "") -> Path:
    """Plot training curves: one panel per quantity (:data:`CURVE_PANELS`), each with labelled axes and units.

    Loss terms share a log-scale panel; validation PSNR (dB), throughput (samples/s), learning rate and
    gradient norm get panels of their own, drawn only when the history has them. Any other numeric key
    goes to a last "other" panel. The file is written atomically.

    Args:
        history: records such as ``{"step": 10, "loss": 0.05, "val_psnr": 28.1}``.
        path: output PNG file.
        title: figure title.

    Returns:
        The path.

    Raises:
        ValueError: if ``history`` holds no record with a ``"step"`` and a numeric value.
        ImportError: if matplotlib is not installed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series: dict[str, tuple[list[float], list[float]]] = {}
    for rec in history:
        if "step" not in rec:
            continue
        for k, v in rec.items():
            if k in ("step", "epoch", "time", "elapsed", "elapsed_s") or isinstance(v, bool):
                continue
            if isinstance(v, (int, float)) and math.isfinite(float(v)):
                xs, ys = series.setdefault(k, ([], []))
                xs.append(float(rec["step"]))
                ys.append(float(v))
    series = {k: v for k, v in series.items() if any(y != 0 for y in v[1])}  # e.g. a disabled loss term
    if not series:
        raise ValueError("history: expected records with a 'step' and at least one non-zero numeric value")
    known = {k for *_, keys in CURVE_PANELS for k in keys}
    panels = [(t, y, log, [k for k in keys if k in series]) for t, y, log, keys in CURVE_PANELS]
    panels.append(("other", "value", False, sorted(k for k in series if k not in known)))
    panels = [p for p in panels if p[3]]
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(5.0 * ncols, 3.4 * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, (ptitle, ylabel, log, keys) in zip(axes.flat, panels):
        for k in keys:
            xs, ys = series[k]
            ax.plot(xs, ys, label=_CURVE_LABELS.get(k, k), marker="o" if len(xs) < 30 else None, markersize=3, lw=1.2)
        if log and all(y > 0 for k in keys for y in series[k][1]):
            ax.set_yscale("log")
        ax.set_title(ptitle)
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, out)
    return out


def _to_pil(img: Tensor, size: tuple[int, int]) -> Image.Image:
    arr = img.detach().to("cpu", torch.float32).clamp(0, 1).mul(255).round().to(torch.uint8)
    pil = Image.fromarray(np.ascontiguousarray(arr.permute(1, 2, 0).numpy()))
    if pil.size != (size[1], size[0]):
        pil = pil.resize((size[1], size[0]), Image.NEAREST)
    return pil


def crop_grid(
    rows: Sequence[tuple[str, Sequence[tuple[str, Tensor]]]],
    path: str | os.PathLike[str],
    *,
    panel: int = 192,
) -> Path:
    """Compose labelled image panels into a grid PNG (one row per frame, one column per method).

    Panels smaller than the largest one of their row (e.g. an LR crop) are enlarged with
    nearest-neighbour sampling so pixels stay visible; every panel is then scaled to ``panel``
    pixels high.

    Args:
        rows: ``[(row_label, [(column_label, image (3, H, W) in [0, 1]), ...]), ...]``.
        path: output PNG file.
        panel: panel height in pixels.

    Returns:
        The path.

    Raises:
        ValueError: if ``rows`` is empty or a row has no panels.

    Example:
        >>> import tempfile, os
        >>> p = crop_grid([("frame 1", [("a", torch.rand(3, 8, 8)), ("b", torch.rand(3, 32, 32))])],
        ...               os.path.join(tempfile.mkdtemp(), "g.png"), panel=64)
        >>> Image.open(p).size[0] > 128
        True
    """
    if not rows or any(not panels for _, panels in rows):
        raise ValueError("rows: expected at least one row with at least one panel")
    label_h, pad, row_label_w = 18, 4, 110
    ncols = max(len(p) for _, p in rows)
    widths = []
    for _, panels in rows:
        h = max(int(img.shape[-2]) for _, img in panels)
        w = max(int(img.shape[-1]) for _, img in panels)
        widths.append(max(1, round(panel * w / h)))
    pw = max(widths)
    width = row_label_w + ncols * (pw + pad) + pad
    height = len(rows) * (panel + label_h + pad) + pad
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, (row_label, panels) in enumerate(rows):
        y0 = pad + r * (panel + label_h + pad)
        draw.text((pad, y0 + label_h + panel // 2 - 6), row_label, fill=(0, 0, 0))
        for c, (label, img) in enumerate(panels):
            x0 = row_label_w + pad + c * (pw + pad)
            draw.text((x0 + 2, y0 + 3), label, fill=(0, 0, 0))
            canvas.paste(_to_pil(img, (panel, widths[r])), (x0, y0 + label_h))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    canvas.save(tmp)
    os.replace(tmp, out)
    return out
