"""Image file helpers: read/write RGB images as float tensors, list frames in natural order.

Images are ``3×H×W`` float32 tensors in ``[0, 1]`` (RGB). Reading goes through Pillow so that every
format it knows (PNG, JPEG, BMP, TIFF, WebP, ...) works; greyscale, palette and RGBA images are
converted to RGB.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from stvsr_blocks._check import check_tensor

__all__ = [
    "IMAGE_EXTENSIONS",
    "natural_key",
    "list_images",
    "read_image",
    "read_images",
    "image_size",
    "write_image",
    "write_frame_folder",
]

#: File suffixes (lower case) treated as images when listing a folder of frames.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str | os.PathLike[str]) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers numerically (``frame2`` before ``frame10``).

    Args:
        name: a file name or path (only its final component is used).

    Returns:
        A tuple usable as a ``sorted`` key; digits compare as integers, text case-insensitively.

    Example:
        >>> sorted(["frame10.png", "frame2.png", "frame1.png"], key=natural_key)
        ['frame1.png', 'frame2.png', 'frame10.png']
    """
    base = os.path.basename(os.fspath(name))
    parts = _DIGITS.split(base)
    return tuple((0, int(p)) if p.isdigit() else (1, p.lower()) for p in parts if p != "")


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """List the image files directly inside ``folder`` in natural order.

    Hidden files (names starting with ``.``) are skipped.

    Args:
        folder: the directory to list.

    Returns:
        Paths of the image files (suffix in :data:`IMAGE_EXTENSIONS`), naturally sorted.

    Raises:
        NotADirectoryError: if ``folder`` is not an existing directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"folder: not an existing directory: {folder}")
    names = [
        e.name
        for e in os.scandir(folder)
        if not e.name.startswith(".") and e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
    ]
    return [folder / n for n in sorted(names, key=natural_key)]


def read_image(path: str | os.PathLike[str]) -> Tensor:
    """Read an image file as an RGB float tensor.

    Args:
        path: the image file.

    Returns:
        A ``3×H×W`` float32 tensor in ``[0, 1]``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file cannot be decoded as an image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"cannot decode image {path}: {exc}") from exc
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def read_images(paths: Iterable[str | os.PathLike[str]]) -> Tensor:
    """Read several same-size images into one clip tensor.

    Args:
        paths: the image files, in temporal order (at least one).

    Returns:
        A ``T×3×H×W`` float32 tensor in ``[0, 1]``.

    Raises:
        FileNotFoundError: if a file does not exist.
        ValueError: if a file cannot be decoded, ``paths`` is empty, or the sizes differ.
    """
    frames: list[Tensor] = []
    first: Path | None = None
    for p in paths:
        img = read_image(p)
        if frames and img.shape != frames[0].shape:
            raise ValueError(
                f"frames of one clip must have the same size: {first} is {tuple(frames[0].shape[-2:])} (H, W) "
                f"but {p} is {tuple(img.shape[-2:])}"
            )
        if first is None:
            first = Path(p)
        frames.append(img)
    if not frames:
        raise ValueError("paths: expected at least one image file, got none")
    return torch.stack(frames)


def image_size(path: str | os.PathLike[str], *, decode: bool = False) -> tuple[int, int]:
    """Return the ``(height, width)`` of an image file.

    Args:
        path: the image file.
        decode: decode the whole image (detects truncated files) instead of reading the header only.

    Returns:
        ``(height, width)`` in pixels.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file cannot be read as an image.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            if decode:
                img.load()
            w, h = img.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"cannot decode image {path}: {exc}") from exc
    return h, w


def _to_uint8_hwc(img: Tensor, name: str) -> np.ndarray:
    check_tensor(img, name)
    if img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"{name}: expected a 3-D tensor of shape (C, H, W) with C in (1, 3), got {tuple(img.shape)}")
    arr = img.detach().to("cpu", torch.float32).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    arr = arr.permute(1, 2, 0).numpy()
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def write_image(path: str | os.PathLike[str], img: Tensor) -> Path:
    """Write a float image tensor to a file (format from the suffix, e.g. ``.png``).

    Values are clamped to ``[0, 1]`` and rounded to 8 bits.

    Args:
        path: destination file; missing parent directories are created.
        img: ``C×H×W`` float tensor with ``C`` = 3 (RGB) or 1 (grey), values in ``[0, 1]``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        TypeError: if ``img`` is not a floating tensor.
        ValueError: if ``img`` is not ``C×H×W`` with ``C`` in (1, 3).

    Example:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> p = write_image(os.path.join(d, "x.png"), torch.full((3, 4, 5), 0.5))
        >>> read_image(p).shape
        torch.Size([3, 4, 5])
    """
    arr = _to_uint8_hwc(img, "img")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def write_frame_folder(
    folder: str | os.PathLike[str],
    frames: Iterable[Tensor] | Tensor,
    *,
    pattern: str = "{:08d}.png",
    start: int = 0,
) -> list[Path]:
    """Write frames to numbered image files in ``folder`` (streaming: one frame in memory at a time).

    Args:
        folder: destination directory (created if missing).
        frames: a ``T×C×H×W`` tensor or any iterable of ``C×H×W`` float tensors in ``[0, 1]``
            (e.g. :func:`stvsr_blocks.data.video.read_video_frames`).
        pattern: ``str.format`` pattern for the file name of frame number ``i``; the suffix selects the format.
        start: number of the first frame.

    Returns:
        The written paths, in order.

    Raises:
        TypeError: if a frame is not a floating tensor.
        ValueError: if a frame is not ``C×H×W`` with ``C`` in (1, 3), or ``pattern`` has no ``{}`` field.

    Example:
        >>> import tempfile
        >>> paths = write_frame_folder(tempfile.mkdtemp(), torch.zeros(2, 3, 4, 4), pattern="f{}.png", start=1)
        >>> [p.name for p in paths]
        ['f1.png', 'f2.png']
    """
    if pattern.format(0) == pattern.format(1):
        raise ValueError(f"pattern: expected a format string with a field for the frame number, got {pattern!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for i, frame in enumerate(frames, start=start):
        out.append(write_image(folder / pattern.format(i), frame))
    return out
