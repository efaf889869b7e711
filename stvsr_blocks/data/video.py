"""Video file I/O with PyAV: streamed reading, stream information, atomic writing with audio.

Frames are ``3×H×W`` float32 tensors in ``[0, 1]`` (RGB). :func:`read_video_frames` decodes one frame at a
time, so arbitrarily long videos never sit in memory whole. :class:`VideoWriter` encodes to a temporary
file next to the destination and renames it into place only when it is closed without error; it can carry
the audio streams of another file along (:func:`plan_audio`: stream copy where the output container accepts
the codec, else a transcode), interleaved with the video as it is written.

Encoder settings are checked up front by :func:`check_encoder`: constant rate factor (:data:`CRF_ENCODERS`,
visually lossless defaults), preset (:data:`PRESETS`) and pixel format.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Literal

import av
import numpy as np
import torch
from torch import Tensor

from stvsr_blocks._check import check_tensor

__all__ = [
    "VideoInfo",
    "video_info",
    "read_video_frames",
    "read_video",
    "default_codec",
    "encoder_available",
    "CRF_ENCODERS",
    "PRESETS",
    "EncoderOptionError",
    "check_encoder",
    "AudioTrack",
    "AUDIO_ENCODERS",
    "plan_audio",
    "VideoWriter",
]


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


def _open_container(path: Path, missing: str, unreadable: str) -> av.container.InputContainer:
    """Open a media file for reading; one ``FileNotFoundError``/``ValueError`` with the caller's wording."""
    if not path.is_file():
        raise FileNotFoundError(missing.format(path=path))
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as exc:
        raise ValueError(unreadable.format(path=path, exc=exc)) from exc


def _open(path: str | os.PathLike[str]) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    path = Path(path)
    container = _open_container(path, "video file not found: {path}", "cannot open video {path}: {exc}")
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


def encoder_available(name: str) -> bool:
    """Whether this PyAV build can open the encoder ``name`` for writing.

    Args:
        name: an FFmpeg encoder name such as ``"libx264"``.

    Returns:
        ``True`` when ``av.codec.Codec(name, "w")`` succeeds.
    """
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
    return "libx264" if encoder_available("libx264") else "mpeg4"


#: Encoders with a constant-rate-factor mode: name -> ``(lowest, highest, default)``. The defaults are
#: visually lossless (x264/x265: 18; lower is better, larger files); other encoders use a bit rate.
CRF_ENCODERS: dict[str, tuple[int, int, int]] = {
    "libx264": (0, 51, 18),
    "libx265": (0, 51, 18),
    "libvpx-vp9": (0, 63, 20),
    "libvpx": (4, 63, 20),
    "libaom-av1": (0, 63, 20),
    "libsvtav1": (0, 63, 20),
}

_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                 "placebo")

#: Encoders with a speed/size preset: name -> accepted values (fastest first).
PRESETS: dict[str, tuple[str, ...]] = {
    "libx264": _X26X_PRESETS,
    "libx265": _X26X_PRESETS,
    "libsvtav1": tuple(str(i) for i in range(13, -1, -1)),
}


class EncoderOptionError(ValueError):
    """An encoder setting this build or this encoder cannot use.

    Args:
        argument: the offending argument (``"codec"``, ``"crf"``, ``"preset"`` or ``"pix_fmt"``).
        message: what is wrong, with the expected and the actual value.
    """

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument
        self.message = message


def _container_format(path: str | os.PathLike[str]) -> str | None:
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"mkv": "matroska", "m4v": "mp4", "mpg": "mpeg", "": None}.get(suffix, suffix)


def _supported_codecs(path: str | os.PathLike[str]) -> set[str] | None:
    """Codec names the container chosen by ``path``'s suffix accepts (``None``: unknown container)."""
    try:
        container = av.open(io.BytesIO(), mode="w", format=_container_format(path))
    except (av.error.FFmpegError, ValueError):
        return None
    try:
        return set(container.supported_codecs)
    finally:
        container.close()


def check_encoder(
    codec: str,
    *,
    crf: int | None = None,
    preset: str | None = None,
    pix_fmt: str = "yuv420p",
    path: str | os.PathLike[str] | None = None,
) -> None:
    """Check video encoder settings before any work starts.

    Args:
        codec: encoder name (e.g. ``"libx264"``).
        crf: constant rate factor (only for :data:`CRF_ENCODERS`, within its range); ``None``: the default.
        preset: speed/size preset (only for :data:`PRESETS`); ``None``: the encoder's own.
        pix_fmt: pixel format; must be one the encoder accepts.
        path: output file; when given, its container must accept the codec.

    Raises:
        EncoderOptionError: naming the argument, if the encoder is not in this PyAV/FFmpeg build or is not a
            video encoder, the container does not accept it, or ``crf``/``preset``/``pix_fmt`` does not apply.

    Example:
        >>> check_encoder("mpeg4", pix_fmt="yuv420p")
        >>> check_encoder("libx264", crf=99)
        Traceback (most recent call last):
        ...
        stvsr_blocks.data.video.EncoderOptionError: crf: libx264 accepts 0..51, got 99
    """
    try:
        enc = av.codec.Codec(codec, "w")
    except Exception:  # noqa: BLE001 - unknown name or no encoder in this build
        known = ", ".join(n for n in ("libx264", "libx265", "libvpx-vp9", "libvpx", "libsvtav1", "libaom-av1",
                                      "mpeg4", "mpeg2video") if encoder_available(n))
        raise EncoderOptionError("codec", f"no encoder {codec!r} in this PyAV/FFmpeg build (available video "
                                          f"encoders include {known})") from None
    if enc.type != "video":
        raise EncoderOptionError("codec", f"{codec!r} is an {enc.type} encoder, not a video encoder")
    if path is not None:
        accepted = _supported_codecs(path)
        if accepted is not None and enc.canonical_name not in accepted:
            raise EncoderOptionError("codec", f"the {Path(path).suffix or 'output'} container does not accept "
                                              f"{codec} ({enc.canonical_name}) video")
    if crf is not None:
        if isinstance(crf, bool) or not isinstance(crf, int):
            raise EncoderOptionError("crf", f"expected an integer, got {crf!r}")
        if codec not in CRF_ENCODERS:
            raise EncoderOptionError("crf", f"{codec} has no constant-rate-factor mode (encoders with one: "
                                            f"{', '.join(CRF_ENCODERS)})")
        lo, hi, _ = CRF_ENCODERS[codec]
        if not lo <= crf <= hi:
            raise EncoderOptionError("crf", f"{codec} accepts {lo}..{hi}, got {crf}")
    if preset is not None:
        if codec not in PRESETS:
            raise EncoderOptionError("preset", f"{codec} has no preset (encoders with one: {', '.join(PRESETS)})")
        if preset not in PRESETS[codec]:
            raise EncoderOptionError("preset", f"{codec} accepts {', '.join(PRESETS[codec])}, got {preset!r}")
    formats = [f.name for f in (enc.video_formats or ())]
    if formats and pix_fmt not in formats:
        raise EncoderOptionError("pix_fmt", f"{codec} accepts {', '.join(formats)}, got {pix_fmt!r}")


#: Audio encoders tried, in order, when an audio stream must be transcoded for the output container.
AUDIO_ENCODERS: tuple[str, ...] = ("aac", "libopus", "libmp3lame", "mp2", "ac3", "flac")


@dataclass(frozen=True)
class AudioTrack:
    """What happens to one audio stream of a source file in an output file (see :func:`plan_audio`).

    Args:
        index: the stream's index in the source file.
        codec: the source stream's codec name (e.g. ``"aac"``).
        action: ``"copy"`` (packets copied unchanged), ``"transcode"`` (decoded and re-encoded) or ``"drop"``
            (no encoder of this build fits the container).
        encoder: the audio encoder of a transcode, else ``None``.
    """

    index: int
    codec: str
    action: Literal["copy", "transcode", "drop"]
    encoder: str | None = None


def _audio_encoder_for(accepted: set[str] | None) -> str | None:
    for name in AUDIO_ENCODERS:
        try:
            enc = av.codec.Codec(name, "w")
        except Exception:  # noqa: BLE001 - not in this build
            continue
        if not enc.experimental and (accepted is None or enc.canonical_name in accepted):
            return name
    return None


def _copy_works(source: Path, index: int, output: str | os.PathLike[str], packets: int = 3) -> bool:
    """Trial stream copy of a few packets into an in-memory container of ``output``'s kind.

    The container's codec list is not enough: e.g. MP4 lists PCM but rejects PCM without a channel layout
    when the file is finalised.
    """
    try:
        with av.open(str(source), mode="r") as src:
            stream = src.streams[index]
            dst = av.open(io.BytesIO(), mode="w", format=_container_format(output))
            try:
                out = dst.add_stream_from_template(stream)
                n = 0
                for packet in src.demux(stream):
                    if packet.size == 0:
                        continue
                    packet.stream = out
                    dst.mux(packet)
                    n += 1
                    if n >= packets:
                        break
            finally:
                dst.close()
    except Exception:  # noqa: BLE001 - any failure means "cannot copy"
        return False
    return True


def plan_audio(source: str | os.PathLike[str], output: str | os.PathLike[str]) -> list[AudioTrack]:
    """Decide, for each audio stream of ``source``, how it goes into ``output``'s container.

    A stream is copied when the container (chosen by ``output``'s suffix) accepts its codec (a trial copy of a
    few packets into memory succeeds), else transcoded to the first of :data:`AUDIO_ENCODERS` that this build
    has and the container accepts, else dropped.

    Args:
        source: a media file (its audio streams are read).
        output: the output file (only its suffix is used).

    Returns:
        One :class:`AudioTrack` per audio stream of ``source`` (empty if it has none).

    Raises:
        FileNotFoundError: if ``source`` does not exist.
        ValueError: if ``source`` cannot be opened.
    """
    source = Path(source)
    container = _open_container(source, "source: file not found: {path}", "source: cannot open {path}: {exc}")
    try:
        streams = [(s.index, str(s.codec_context.name)) for s in container.streams.audio]
    finally:
        container.close()
    if not streams:
        return []
    accepted = _supported_codecs(output)
    tracks = []
    for index, codec in streams:
        if (accepted is None or codec in accepted) and _copy_works(source, index, output):
            tracks.append(AudioTrack(index, codec, "copy"))
            continue
        encoder = _audio_encoder_for(accepted)
        tracks.append(AudioTrack(index, codec, "transcode", encoder) if encoder else AudioTrack(index, codec, "drop"))
    return tracks


class VideoWriter:
    """Encode frames to a video file atomically (context manager), optionally with another file's audio.

    Frames go to a temporary file in the destination folder; on a clean :meth:`close` (or leaving the
    ``with`` block without exception) it is renamed to ``path``; on an exception it is deleted and
    ``path`` is left untouched. The stream is created at the first frame, whose size fixes the video
    size (even height and width are required by ``yuv420p``). Frame ``k`` has the timestamp ``k / fps``
    exactly (the stream's time base is ``1 / fps``).

    With ``audio_from``, the audio streams of that file follow :func:`plan_audio` (copied, or transcoded
    when the container does not accept their codec; :attr:`audio_tracks` says which) and are interleaved
    with the video as frames are written: audio is aligned on the source's first video frame, so a video
    upscaled frame by frame stays in sync with its sound.

    Args:
        path: destination file; the suffix selects the container (``.mp4``, ``.mkv``, ``.avi``, ...).
        fps: frame rate (an ``int``, ``float`` or exact :class:`~fractions.Fraction`, e.g. ``Fraction(30000, 1001)``).
        codec: encoder name; ``None`` picks :func:`default_codec`.
        pix_fmt: encoder pixel format (one the encoder accepts).
        crf: constant rate factor for the encoders of :data:`CRF_ENCODERS` (lower is better; ``None``: the
            visually lossless default of that table, 18 for ``libx264``/``libx265``).
        preset: speed/size preset for the encoders of :data:`PRESETS` (``None``: the encoder's default).
        bit_rate: target bit rate for encoders without a CRF mode (bits/s).
        audio_from: a media file whose audio streams are carried into the output.
        audio_until: drop audio later than this many seconds after the source's first video frame
            (e.g. when only part of the source's video is written); ``None`` keeps all of it.

    Raises:
        ValueError: if ``fps`` is not positive or ``audio_from`` cannot be read.
        EncoderOptionError: if ``codec`` is not available or ``crf``/``preset``/``pix_fmt`` does not apply
            (see :func:`check_encoder`).

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
        crf: int | None = None,
        preset: str | None = None,
        bit_rate: int = 8_000_000,
        audio_from: str | os.PathLike[str] | None = None,
        audio_until: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1_000_000) if isinstance(fps, float) else Fraction(fps)
        if self.fps <= 0:
            raise ValueError(f"fps: expected a positive frame rate, got {fps}")
        self.codec = codec if codec is not None else default_codec()
        check_encoder(self.codec, crf=crf, preset=preset, pix_fmt=pix_fmt)
        self.pix_fmt = pix_fmt
        self.crf = crf if crf is not None else CRF_ENCODERS.get(self.codec, (0, 0, None))[2]
        self.preset = preset
        self.bit_rate = bit_rate
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.audio_until = audio_until
        #: What happens to each audio stream of ``audio_from`` (empty without one).
        self.audio_tracks: list[AudioTrack] = []
        if self.audio_from is not None:
            self.audio_tracks = plan_audio(self.audio_from, self.path)
        self.frames_written = 0
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._size: tuple[int, int] | None = None
        self._audio: _AudioMuxer | None = None
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".tmp{self.path.suffix}", dir=self.path.parent)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; finished videos get normal permissions
        self._tmp = Path(tmp)
        try:
            self._container = av.open(str(self._tmp), mode="w", format=_container_format(self.path))
        except (av.error.FFmpegError, ValueError) as exc:
            self._tmp.unlink(missing_ok=True)
            raise ValueError(f"path: cannot create a video container for {self.path}: {exc}") from exc

    def _start(self, height: int, width: int) -> None:
        assert self._container is not None
        if "420" in self.pix_fmt and (height % 2 or width % 2):
            raise ValueError(
                f"frame: pixel format {self.pix_fmt} needs even height and width, got {height}x{width} "
                "(crop or pad the frames, or use pix_fmt='yuv444p')"
            )
        stream = self._container.add_stream(self.codec, rate=self.fps)
        stream.width, stream.height, stream.pix_fmt = width, height, self.pix_fmt
        options: dict[str, str] = {}
        if self.crf is not None:
            options["crf"] = str(self.crf)
            if self.codec in ("libvpx-vp9", "libaom-av1"):
                stream.bit_rate = 0  # constant quality, no bit-rate cap
            elif self.codec == "libvpx":
                stream.bit_rate = self.bit_rate  # VP8's CRF needs a cap
        else:
            stream.bit_rate = self.bit_rate
        if self.preset is not None:
            options["preset"] = self.preset
        stream.options = options
        self._stream = stream
        self._size = (height, width)
        if self.audio_from is not None and any(t.action != "drop" for t in self.audio_tracks):
            self._audio = _AudioMuxer(self.audio_from, self.audio_tracks, self._container, self.audio_until)

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
            if self._audio is not None:
                self._audio.mux_until(float(self.frames_written / self.fps))

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
            if self._audio is not None:
                self._audio.finish()
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
        if self._audio is not None:
            self._audio.close()
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


class _AudioMuxer:
    """Feeds the audio streams of a source file into an output container, in step with the video."""

    def __init__(self, source: Path, tracks: list[AudioTrack], out: av.container.OutputContainer,
                 until: float | None) -> None:
        self._in = av.open(str(source), mode="r")
        try:
            video = self._in.streams.video[0] if self._in.streams.video else None
            start = 0.0
            if video is not None and video.start_time is not None and video.time_base is not None:
                start = float(video.start_time * video.time_base)
            self._out = out
            self._until = math.inf if until is None else until
            self._start = start
            self._routes: dict[int, tuple[AudioTrack, av.stream.Stream, int]] = {}
            for track in tracks:
                if track.action == "drop":
                    continue
                src = self._in.streams[track.index]
                if track.action == "copy":
                    dst = out.add_stream_from_template(src)
                else:
                    assert track.encoder is not None
                    rate = src.codec_context.sample_rate
                    rates = av.codec.Codec(track.encoder, "w").audio_rates
                    if rates and rate not in rates:
                        rate = 48000 if 48000 in rates else max(rates)
                    dst = out.add_stream(track.encoder, rate=rate)
                    channels = src.codec_context.layout.nb_channels
                    dst.layout = "mono" if channels == 1 else "stereo"  # also for "2 channels" (no order)
                offset = round(start / src.time_base) if src.time_base else 0
                self._routes[track.index] = (track, dst, offset)
            self._packets = self._in.demux([self._in.streams[i] for i in self._routes])
            self._pending: av.Packet | None = None
            self._done = False
        except BaseException:
            self._in.close()
            raise

    def _time(self, packet: av.Packet) -> float:
        ts = packet.pts if packet.pts is not None else packet.dts
        _, _, offset = self._routes[packet.stream.index]
        return -math.inf if ts is None else float((ts - offset) * packet.time_base)

    def mux_until(self, seconds: float) -> None:
        """Mux the source's audio packets that start before ``seconds`` (output time)."""
        while not self._done:
            packet = self._pending if self._pending is not None else next(self._packets, None)
            self._pending = None
            if packet is None:
                self._done = True
                break
            index = packet.stream.index
            track, dst, offset = self._routes[index]
            if packet.size == 0:  # demuxer flush packet: drain the decoder of a transcoded stream
                if track.action == "transcode":
                    self._encode(dst, packet.stream.codec_context.decode(None))
                continue
            t = self._time(packet)
            if t >= seconds:
                self._pending = packet
                break
            if t >= self._until:
                continue
            if packet.duration and t + float(packet.duration * packet.time_base) < 0:
                continue  # sound from before the first video frame (codec priming ends at 0 and is kept)
            if track.action == "copy":
                if packet.pts is not None:
                    packet.pts -= offset
                if packet.dts is not None:
                    packet.dts -= offset
                packet.stream = dst
                self._out.mux(packet)
            else:
                frames = packet.decode()
                for f in frames:
                    if f.pts is not None:
                        f.pts -= offset  # same alignment as a copy; the encoder's priming is then compensated
                self._encode(dst, frames)

    def _encode(self, dst: av.stream.Stream, frames: list) -> None:
        for f in frames:
            for out_packet in dst.encode(f):
                self._out.mux(out_packet)

    def finish(self) -> None:
        """Mux all remaining audio, flush the audio encoders and close the source."""
        try:
            self.mux_until(math.inf)
            for track, dst, _ in self._routes.values():
                if track.action == "transcode":
                    self._encode(dst, [None])
        finally:
            self.close()

    def close(self) -> None:
        """Close the source file."""
        self._in.close()
