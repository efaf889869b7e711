"""Video file I/O with PyAV: streamed reading, stream information, atomic writing.

Frames are ``3×H×W`` float32 tensors in ``[0, 1]`` (RGB). :func:`read_video_frames` decodes one frame at a
time, so arbitrarily long videos never sit in memory whole. :class:`VideoWriter` encodes to a temporary
file next to the destination and renames it into place only when it is closed without error.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
import torch
from torch import Tensor

from stvsr_blocks._check import check_tensor

__all__ = ["VideoInfo", "video_info", "read_video_frames", "read_video", "default_codec", "VideoWriter"]


@dataclass(frozen=True)
class VideoInfo:
    """Properties of the first video stream of a file.

    Args:
        fps: average frame rate as an exact fraction (e.g. ``Fraction(30000, 1001)``).
        num_frames: frame count from the container header, or ``None`` when the container does not say.
        height: frame height in pixels.
        width: frame width in pixels.
        codec: decoder name (e.g. ``"h264"``).
        duration: duration in seconds, or ``None`` when unknown.
    """

    fps: Fraction
    num_frames: int | None
    height: int
    width: int
    codec: str
    duration: float | None


def _open(path: str | os.PathLike[str]) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    try:
        container = av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise ValueError(f"cannot open video {path}: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise ValueError(f"no video stream in {path}")
    return container, container.streams.video[0]


def video_info(path: str | os.PathLike[str]) -> VideoInfo:
    """Read the frame rate, frame count, size and codec of a video without decoding it.

    Args:
        path: the video file.

    Returns:
        A :class:`VideoInfo`.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file cannot be opened as a media container or has no video stream.
    """
    container, stream = _open(path)
    try:
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = Fraction(rate) if rate else Fraction(0)
        frames = int(stream.frames) if stream.frames else None
        if stream.duration is not None and stream.time_base is not None:
            duration: float | None = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = None
        return VideoInfo(
            fps=fps,
            num_frames=frames,
            height=int(stream.codec_context.height),
            width=int(stream.codec_context.width),
            codec=str(stream.codec_context.name),
            duration=duration,
        )
    finally:
        container.close()


def read_video_frames(
    path: str | os.PathLike[str], *, start: int = 0, max_frames: int | None = None
) -> Iterator[Tensor]:
    """Stream the frames of a video, one decoded frame at a time.

    The arguments and the file (exists, opens, has a video stream) are checked at the call; the returned
    generator opens the file when iteration starts and closes it when it ends (or is closed).

    Args:
        path: the video file.
        start: number of leading frames to skip (decoded and dropped).
        max_frames: stop after this many frames (``None``: all).

    Returns:
        A generator of ``3×H×W`` float32 tensors in ``[0, 1]``, RGB (it raises ``ValueError`` if decoding
        fails part-way).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file cannot be opened, has no video stream, or ``start``/``max_frames`` is negative.
    """
    if start < 0:
        raise ValueError(f"start: expected a non-negative frame index, got {start}")
    if max_frames is not None and max_frames < 0:
        raise ValueError(f"max_frames: expected None or a non-negative count, got {max_frames}")
    container, _ = _open(path)  # fail here, at the call, on a missing/unreadable file or no video stream
    container.close()
    return _stream_frames(Path(path), start, max_frames)


def _stream_frames(path: Path, start: int, max_frames: int | None) -> Iterator[Tensor]:
    if max_frames == 0:
        return
    container, stream = _open(path)
    stream.thread_type = "AUTO"
    produced = 0
    try:
        for i, frame in enumerate(container.decode(stream)):
            if i < start:
                continue
            arr = frame.to_ndarray(format="rgb24")
            yield torch.from_numpy(arr).permute(2, 0, 1).float().div_(255.0)
            produced += 1
            if max_frames is not None and produced >= max_frames:
                return
    except av.error.FFmpegError as exc:
        raise ValueError(f"cannot decode video {path}: {exc}") from exc
    finally:
        container.close()


def read_video(path: str | os.PathLike[str], *, start: int = 0, max_frames: int | None = None) -> Tensor:
    """Read (part of) a video into one ``T×3×H×W`` tensor. Prefer :func:`read_video_frames` for long videos.

    Args:
        path: the video file.
        start: number of leading frames to skip.
        max_frames: read at most this many frames (``None``: all).

    Returns:
        ``T×3×H×W`` float32 tensor in ``[0, 1]``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file cannot be read, has no video stream, or yields no frame.
    """
    frames = list(read_video_frames(path, start=start, max_frames=max_frames))
    if not frames:
        raise ValueError(f"no frames decoded from {path} (start={start}, max_frames={max_frames})")
    return torch.stack(frames)


def _encoder_works(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False
    return True


def default_codec() -> str:
    """The default encoder: ``libx264`` when this PyAV build has it, else ``mpeg4``.

    Returns:
        The encoder name.
    """
    return "libx264" if _encoder_works("libx264") else "mpeg4"


class VideoWriter:
    """Encode frames to a video file atomically (context manager).

    Frames go to a temporary file in the destination folder; on a clean :meth:`close` (or leaving the
    ``with`` block without exception) it is renamed to ``path``; on an exception it is deleted and
    ``path`` is left untouched. The stream is created at the first frame, whose size fixes the video
    size (even height and width are required by ``yuv420p``).

    Args:
        path: destination file; the suffix selects the container (``.mp4``, ``.mkv``, ``.avi``, ...).
        fps: frame rate (an ``int``, ``float`` or exact :class:`~fractions.Fraction`, e.g. ``Fraction(30000, 1001)``).
        codec: encoder name; ``None`` picks :func:`default_codec`.
        pix_fmt: encoder pixel format.
        crf: constant rate factor for ``libx264``/``libx265`` (lower is better; 18 is visually lossless).
        bit_rate: target bit rate for other encoders (bits/s).

    Raises:
        ValueError: if ``fps`` is not positive or ``codec`` is not available in this PyAV build.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "clip.mp4")
        >>> with VideoWriter(path, fps=25) as w:
        ...     w.write(torch.full((4, 3, 16, 16), 0.5))
        >>> video_info(path).num_frames
        4
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: int | float | Fraction = 30,
        codec: str | None = None,
        pix_fmt: str = "yuv420p",
        crf: int = 18,
        bit_rate: int = 8_000_000,
    ) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1_000_000) if isinstance(fps, float) else Fraction(fps)
        if self.fps <= 0:
            raise ValueError(f"fps: expected a positive frame rate, got {fps}")
        self.codec = codec if codec is not None else default_codec()
        if not _encoder_works(self.codec):
            raise ValueError(f"codec: encoder {self.codec!r} is not available in this PyAV/FFmpeg build")
        self.pix_fmt = pix_fmt
        self.crf = crf
        self.bit_rate = bit_rate
        self.frames_written = 0
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._size: tuple[int, int] | None = None
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".tmp{self.path.suffix}", dir=self.path.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; finished videos get normal permissions
        self._tmp = Path(tmp)
        try:
            self._container = av.open(str(self._tmp), mode="w", format=self._format_for(self.path))
        except (av.error.FFmpegError, ValueError) as exc:
            self._tmp.unlink(missing_ok=True)
            raise ValueError(f"path: cannot create a video container for {self.path}: {exc}") from exc

    @staticmethod
    def _format_for(path: Path) -> str | None:
        suffix = path.suffix.lower().lstrip(".")
        return {"mkv": "matroska", "m4v": "mp4", "mpg": "mpeg", "": None}.get(suffix, suffix)

    def _start(self, height: int, width: int) -> None:
        assert self._container is not None
        if "420" in self.pix_fmt and (height % 2 or width % 2):
            raise ValueError(
                f"frame: pixel format {self.pix_fmt} needs even height and width, got {height}x{width} "
                "(crop or pad the frames, or use pix_fmt='yuv444p')"
            )
        stream = self._container.add_stream(self.codec, rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, self.pix_fmt
        if self.codec in ("libx264", "libx265"):
            stream.options = {"crf": str(self.crf)}
        else:
            stream.bit_rate = self.bit_rate
        self._stream = stream
        self._size = (height, width)

    def write(self, frames: Tensor | Iterable[Tensor]) -> None:
        """Encode one frame ``3×H×W``, a clip ``T×3×H×W`` or an iterable of frames (floats in ``[0, 1]``).

        Args:
            frames: the frame(s) to append.

        Raises:
            RuntimeError: if the writer is already closed.
            TypeError: if a frame is not a floating tensor.
            ValueError: if a frame is not ``3×H×W``, differs in size from the first frame, or has odd
                size with a 4:2:0 pixel format.
        """
        if self._closed:
            raise RuntimeError(f"write: the VideoWriter for {self.path} is closed")
        if isinstance(frames, Tensor) and frames.ndim == 4:
            frames = list(frames.unbind(0))
        elif isinstance(frames, Tensor):
            frames = [frames]
        for frame in frames:
            check_tensor(frame, "frame")
            if frame.ndim != 3 or frame.shape[0] != 3:
                raise ValueError(f"frame: expected a 3-D tensor of shape (3, H, W), got shape {tuple(frame.shape)}")
            h, w = int(frame.shape[1]), int(frame.shape[2])
            if self._stream is None:
                self._start(h, w)
            elif (h, w) != self._size:
                raise ValueError(f"frame: expected size {self._size} like the first frame, got {(h, w)}")
            arr = frame.detach().to("cpu", torch.float32).clamp(0, 1).mul(255).round().to(torch.uint8)
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr.permute(1, 2, 0).numpy()), format="rgb24")
            assert self._container is not None and self._stream is not None
            for packet in self._stream.encode(vf):
                self._container.mux(packet)
            self.frames_written += 1

    def close(self) -> Path:
        """Flush the encoder, close the file and move it to :attr:`path` (idempotent).

        Returns:
            The destination path.

        Raises:
            ValueError: if no frame was written (the temporary file is removed).
        """
        if self._closed:
            return self.path
        self._closed = True
        try:
            if self._stream is None:
                raise ValueError(f"no frame was written to {self.path}; nothing to save")
            assert self._container is not None
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self._discard()
            raise
        return self.path

    def abort(self) -> None:
        """Close without saving: the temporary file is deleted and :attr:`path` is not created/changed."""
        if not self._closed:
            self._closed = True
            self._discard()

    def _discard(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the file is being thrown away
                pass
        self._tmp.unlink(missing_ok=True)

    def __del__(self) -> None:
        """Discard the temporary file of a writer that was never closed."""
        if not getattr(self, "_closed", True) and hasattr(self, "_tmp"):
            try:
                self.abort()
            except Exception:  # noqa: BLE001 - never raise from a finaliser
                pass

    def __enter__(self) -> VideoWriter:
        """Enter the context.

        Returns:
            The writer itself.
        """
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Save on a clean exit, discard on an exception.

        Args:
            exc_type: the exception type, if the block raised.
            exc: the exception, if the block raised.
            tb: its traceback.
        """
        if exc_type is None:
            self.close()
        else:
            self.abort()
