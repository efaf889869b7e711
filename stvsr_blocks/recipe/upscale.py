"""Upscale a video file or a folder of frames: ×scale in space (4 for the presets), ×2 in time.

Examples::

    stvsr upscale input.mp4                          # -> input_stvsr.mp4 beside it, with its audio
    stvsr upscale input.mp4 --out output.mp4 --model runs/tiny/final --crf 16 --preset slow
    stvsr upscale frames/ --out upscaled/ --format png --model bicubic-flow --fps 24000/1001
    stvsr upscale input.mp4 --out big.mp4 --model bicubic-blend --tile 128 --tile-overlap 16 --no-audio

``N`` input frames give ``2N - 1`` output frames (each pair of consecutive frames gets a frame
synthesised between them) at twice the frame rate, so the duration is preserved up to one frame;
``--time-factor K`` synthesises ``K - 1`` frames at ``t = 1/K, ..., (K-1)/K`` per pair (``K (N - 1) + 1``
frames at ``K`` times the rate). Frame rates are exact fractions: 30000/1001 fps in gives 60000/1001 out.
Without ``--model`` the shipped model (``mbnet-photo``) is used; without ``--out`` the result goes beside the
input as ``<name>_stvsr.<ext>`` (a PNG folder ``<name>_stvsr/`` for a frame-folder input).

* **Streaming in time**: frames are decoded one at a time and fed to
  :class:`~stvsr_blocks.inference.StreamingUpscaler`, which keeps only the previous LR frame; each
  HR frame is encoded (or saved) as soon as it is produced. Peak memory does not grow with the
  length of the video.
* **Tiling in space**: every window is processed in overlapping LR tiles (``--tile``,
  ``--tile-overlap``; :func:`~stvsr_blocks.inference.upscale_pair`), so the model's activations are
  bounded by the tile size. The largest buffers left are the three HR frames of one window (a
  1920×1080 input gives 7680×4320 output frames, about 0.4 GB each in float32).
* **Output**: a video file (PyAV; the input's codec family when the container accepts it, e.g.
  H.264 → ``libx264``, else the library default) or numbered PNG frames (``--format png``). Output
  goes to a temporary file / folder beside the destination that is renamed into place only when
  every frame has been written, so an interrupted or failed run never leaves a partial result
  under the requested name.
* **Quality**: ``--crf`` (x264/x265 default 18, visually lossless; VP9/VP8/AV1 default 20), ``--preset``
  (x264/x265: ``ultrafast`` … ``placebo``) and ``--pix-fmt`` (default ``yuv420p``; e.g. ``yuv444p``
  keeps full colour resolution). Settings the encoder cannot use are rejected before any work starts.
* **Audio**: every audio stream of a video input is carried into a video output
  (:func:`~stvsr_blocks.data.video.plan_audio`): copied unchanged when the container accepts the codec,
  else transcoded (one notice line on stderr); ``--no-audio`` drops it. With ``--max-frames`` the audio
  is cut where the processed video ends.
* **Errors** in the input (missing or unreadable file, no video stream, frames smaller than
  :data:`MIN_SIZE`, fewer than 2 frames, frames of different sizes in a folder) or in the encoder
  settings (unknown encoder, CRF out of range, unknown preset or pixel format) are reported as one
  line on stderr with exit code 2, and no output is created.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import torch
from torch import Tensor, nn

from stvsr_blocks._check import arg_nonneg_int
from stvsr_blocks.baselines import FFmpegBaseline
from stvsr_blocks.data.io import image_size, list_images, read_image, write_image
from stvsr_blocks.data.layouts import VIDEO_EXTENSIONS
from stvsr_blocks.data.video import (
    AudioTrack,
    EncoderOptionError,
    VideoWriter,
    check_encoder,
    default_codec,
    encoder_available,
    read_video_frames,
    video_info,
)
from stvsr_blocks.inference import StreamingUpscaler, TileConfig, keep_freed_memory
from stvsr_blocks.recipe._runtime import timed
from stvsr_blocks.recipe.evaluate import BASELINES, UserError, load_model

__all__ = [
    "MIN_SIZE",
    "CODEC_FAMILIES",
    "InputVideo",
    "UpscaleResult",
    "open_input",
    "pick_codec",
    "default_output",
    "upscale_video",
    "add_arguments",
    "main",
]

#: Smallest accepted input frame side in pixels.
MIN_SIZE: int = 8

#: Decoder name of the input -> encoder of the same family (used when it is available and fits the container).
CODEC_FAMILIES: dict[str, str] = {
    "h264": "libx264", "hevc": "libx265", "mpeg4": "mpeg4", "vp9": "libvpx-vp9", "vp8": "libvpx",
    "av1": "libaom-av1", "libdav1d": "libaom-av1", "libaom-av1": "libaom-av1", "mpeg2video": "mpeg2video",
}

_CONTAINER_CODECS: dict[str, tuple[str, ...]] = {
    ".mp4": ("libx264", "libx265", "mpeg4", "libvpx-vp9", "libaom-av1", "mpeg2video"),
    ".m4v": ("libx264", "libx265", "mpeg4"),
    ".mov": ("libx264", "libx265", "mpeg4", "mpeg2video"),
    ".mkv": ("libx264", "libx265", "mpeg4", "libvpx-vp9", "libvpx", "libaom-av1", "mpeg2video"),
    ".avi": ("mpeg4", "libx264", "mpeg2video"),
    ".webm": ("libvpx-vp9", "libvpx", "libaom-av1"),
    ".mpg": ("mpeg2video",),
    ".mpeg": ("mpeg2video",),
}


@dataclass
class InputVideo:
    """A validated input: where frames come from and what is known about them before decoding.

    Args:
        path: the video file or frame folder.
        kind: ``"video"`` or ``"frames"``.
        height: frame height.
        width: frame width.
        num_frames: number of frames to process when known (after ``max_frames``), else ``None``.
        fps: input frame rate (``None`` when unknown, e.g. a frame folder).
        codec: decoder name of a video input.
        files: the frame files of a folder input.
        max_frames: limit on the number of frames read.
    """

    path: Path
    kind: Literal["video", "frames"]
    height: int
    width: int
    num_frames: int | None
    fps: Fraction | None = None
    codec: str | None = None
    files: tuple[Path, ...] = ()
    max_frames: int | None = None

    def frames(self) -> Iterator[Tensor]:
        """Decode the frames one at a time.

        Yields:
            ``(3, H, W)`` float32 RGB frames in ``[0, 1]``.

        Raises:
            UserError: if a frame cannot be decoded or differs in size from the first.
        """
        try:
            if self.kind == "video":
                for f in read_video_frames(self.path, max_frames=self.max_frames):
                    if tuple(f.shape[-2:]) != (self.height, self.width):
                        raise UserError(f"{self.path}: frame size changed mid-stream to {tuple(f.shape[-2:])}")
                    yield f
            else:
                for p in self.files:
                    img = read_image(p)
                    if tuple(img.shape[-2:]) != (self.height, self.width):
                        raise UserError(f"{p}: size {tuple(img.shape[-2:])} differs from the first frame's "
                                        f"{(self.height, self.width)}")
                    yield img
        except (ValueError, OSError) as exc:
            raise UserError(str(exc)) from exc


def open_input(path: str | os.PathLike[str], *, max_frames: int | None = None) -> InputVideo:
    """Validate an input video file or frame folder without decoding it (folder frames: headers only).

    Args:
        path: a video file PyAV can read, or a folder of image files (natural order).
        max_frames: use at most this many frames.

    Returns:
        The :class:`InputVideo`.

    Raises:
        UserError: if the path does not exist, is not a readable video, has no video stream, holds fewer
            than 2 frames, frames smaller than :data:`MIN_SIZE`, or (folder) frames of different sizes.
    """
    p = Path(path)
    if max_frames is not None and max_frames < 2:
        raise UserError(f"--max-frames: expected at least 2 frames, got {max_frames}")
    if not p.exists():
        raise UserError(f"input not found: {p}")
    if p.is_dir():
        files = list_images(p)
        if max_frames is not None:
            files = files[:max_frames]
        if len(files) < 2:
            raise UserError(f"{p}: need at least 2 image files to upscale, found {len(files)}")
        sizes = []
        for f in files:
            try:
                sizes.append(image_size(f))
            except ValueError as exc:
                raise UserError(str(exc)) from exc
        for f, s in zip(files, sizes):
            if s != sizes[0]:
                raise UserError(f"{p}: frames differ in size: {files[0].name} is {sizes[0][0]}x{sizes[0][1]} "
                                f"but {f.name} is {s[0]}x{s[1]} (HxW)")
        h, w = sizes[0]
        inp = InputVideo(p, "frames", h, w, len(files), files=tuple(files), max_frames=max_frames)
    else:
        try:
            info = video_info(p)
        except ValueError as exc:
            raise UserError(f"{p}: not a readable video ({exc})") from exc
        n = info.num_frames
        if n is not None and max_frames is not None:
            n = min(n, max_frames)
        if n is not None and n < 2:
            raise UserError(f"{p}: need at least 2 frames to upscale, the video has {n}")
        fps = info.fps if info.fps > 0 else None
        inp = InputVideo(p, "video", info.height, info.width, n, fps=fps, codec=info.codec, max_frames=max_frames)
    if min(inp.height, inp.width) < MIN_SIZE:
        raise UserError(f"{p}: frames of {inp.height}x{inp.width} are too small (at least {MIN_SIZE}x{MIN_SIZE})")
    return inp


def default_output(input_path: str | os.PathLike[str], fmt: Literal["auto", "video", "png"] = "auto") -> Path:
    """The output used when none is given: beside the input, named ``<name>_stvsr``.

    Args:
        input_path: the video file or frame folder.
        fmt: the requested output kind (``"png"`` gives a folder even for a video input).

    Returns:
        ``clip.mp4`` -> ``clip_stvsr.mp4`` (a file whose suffix is no video suffix -> ``.mp4``);
        ``frames/`` or ``fmt="png"`` -> ``frames_stvsr/`` / ``clip_stvsr/`` (a folder for PNG frames).

    Example:
        >>> default_output("/data/clip.mkv").as_posix()
        '/data/clip_stvsr.mkv'
        >>> default_output("/data/clip.mkv", "png").as_posix()
        '/data/clip_stvsr'
    """
    p = Path(input_path)
    base = p.parent / f"{p.stem if p.suffix and not p.is_dir() else p.name}_stvsr"
    if fmt == "png" or (fmt == "auto" and p.is_dir()):
        return base
    suffix = p.suffix.lower() if p.suffix.lower() in VIDEO_EXTENSIONS and not p.is_dir() else ".mp4"
    return base.with_name(base.name + suffix)


def pick_codec(input_codec: str | None, out_path: str | os.PathLike[str]) -> str:
    """The encoder for an output file: the input's codec family when usable, else the default.

    Args:
        input_codec: decoder name of the input (e.g. ``"h264"``), or ``None``.
        out_path: output file (its suffix selects the container).

    Returns:
        An encoder name available in this PyAV build.

    Example:
        >>> pick_codec("mpeg4", "out.avi")
        'mpeg4'
    """
    suffix = Path(out_path).suffix.lower()
    allowed = _CONTAINER_CODECS.get(suffix)
    want = CODEC_FAMILIES.get(input_codec or "")
    if want and (allowed is None or want in allowed) and encoder_available(want):
        return want
    if allowed is not None and default_codec() not in allowed:
        for name in allowed:
            if encoder_available(name):
                return name
    return default_codec()


@dataclass
class UpscaleResult:
    """What :func:`upscale_video` produced.

    Args:
        output: the video file or PNG folder.
        frames_in: input frames read.
        frames_out: output frames written (``2 * frames_in - 1``).
        height: output height.
        width: output width.
        fps: output frame rate.
        codec: encoder used (``"png"`` for a folder).
        seconds: wall-clock time.
        audio: what happened to each audio stream of the input (empty for no audio, ``--no-audio`` or PNG).
        timings: where ``seconds`` went: ``"load"`` (opening the input, checking the encoder, loading the
            model), ``"decode"`` (reading and converting input frames), ``"model"`` (the upscaler: every
            model call), ``"encode"`` (writing output frames, closing the file, muxing audio). The four
            add up to ``seconds`` up to the bookkeeping around them.
    """

    output: Path
    frames_in: int
    frames_out: int
    height: int
    width: int
    fps: Fraction
    codec: str
    seconds: float
    audio: tuple[AudioTrack, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


def _is_png_output(out: Path, fmt: str) -> bool:
    if fmt == "png":
        return True
    if fmt == "video":
        return False
    return out.suffix.lower() not in VIDEO_EXTENSIONS


def upscale_video(
    input_path: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    model: nn.Module | str | None = None,
    fmt: Literal["auto", "video", "png"] = "auto",
    tiles: TileConfig | None = None,
    overlap: Literal["first", "average"] = "first",
    fps: float | Fraction | None = None,
    codec: str | None = None,
    max_frames: int | None = None,
    device: str | torch.device = "cpu",
    overwrite: bool = False,
    progress: bool = True,
    time_factor: int = 2,
    crf: int | None = None,
    preset: str | None = None,
    pix_fmt: str | None = None,
    audio: bool = True,
    notice: Callable[[str], None] | None = None,
) -> UpscaleResult:
    """Upscale a video file or frame folder to a video file or a PNG folder (streamed, tiled, atomic).

    Args:
        input_path: a video file or a folder of frames.
        output: destination video file (suffix picks the container) or folder for PNG frames; ``None``:
            :func:`default_output` (beside the input).
        model: a model, or a spec for :func:`~stvsr_blocks.recipe.evaluate.load_model`; ``None`` uses the
            shipped default model (:data:`stvsr_blocks.pretrained.DEFAULT_MODEL`).
        fmt: ``"video"``, ``"png"`` or ``"auto"`` (PNG unless ``output`` has a video suffix).
        tiles: spatial tiling; ``None`` processes whole frames.
        overlap: ``"first"`` or ``"average"`` for inner frames (see
            :class:`~stvsr_blocks.inference.StreamingUpscaler`).
        fps: input frame rate override (default: the video's, or 25 for folders); the output has exactly
            ``time_factor`` times this rate (a :class:`~fractions.Fraction` stays exact).
        codec: encoder override for video output.
        max_frames: read at most this many input frames.
        device: where to run the model.
        overwrite: replace an existing output.
        progress: show a progress bar (frames/s and ETA) on stderr.
        time_factor: frame-rate multiplier ``N >= 2``: ``N - 1`` frames at ``t = k/N`` between each input pair.
        crf: constant rate factor of the video encoder (``None``: its visually lossless default, see
            :data:`~stvsr_blocks.data.video.CRF_ENCODERS`).
        preset: encoder speed/size preset (``None``: the encoder's default).
        pix_fmt: output pixel format (``None``: ``yuv420p``).
        audio: carry the input's audio streams into a video output (copied, or transcoded when the container
            does not accept their codec).
        notice: called with a one-line message when audio is transcoded or cannot be kept (default: print
            to stderr).

    Returns:
        An :class:`UpscaleResult`.

    Raises:
        UserError: on invalid input, output or encoder settings (nothing is left at ``output`` in that case;
            everything but a failure while decoding is detected before the model is loaded).
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    say = notice if notice is not None else (lambda msg: print(msg, file=sys.stderr))
    if isinstance(time_factor, bool) or not isinstance(time_factor, int) or time_factor < 2:
        raise UserError(f"--time-factor: expected an integer >= 2, got {time_factor!r}")
    inp = open_input(input_path, max_frames=max_frames)
    out = Path(output) if output is not None else default_output(inp.path, fmt)
    png = _is_png_output(out, fmt)
    if out.exists() and not overwrite:
        raise UserError(f"--out: {out} already exists (pass --overwrite to replace it)")
    if not png and out.suffix.lower() not in VIDEO_EXTENSIONS:
        raise UserError(f"--out: {out} has no video suffix ({', '.join(VIDEO_EXTENSIONS)}); use --format png for frames")
    if png and out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} exists and is not a folder")
    if png:
        for flag, value in (("--codec", codec), ("--crf", crf), ("--preset", preset), ("--pix-fmt", pix_fmt)):
            if value is not None:
                raise UserError(f"{flag}: applies to video output only, not to PNG frames ({out})")
        used_codec = "png"
    else:
        used_codec = codec or pick_codec(inp.codec, out)
        try:
            check_encoder(used_codec, crf=crf, preset=preset, pix_fmt=pix_fmt or "yuv420p", path=out)
        except EncoderOptionError as exc:
            raise UserError(f"--{exc.argument.replace('_', '-')}: {exc.message}") from exc
    if model is None:
        from stvsr_blocks.pretrained import DEFAULT_MODEL

        model = DEFAULT_MODEL
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model, device=device)
    model = model.to(device).eval()
    scale = int(getattr(model, "scale", 4))
    in_fps = Fraction(fps).limit_denominator(1_000_000) if fps is not None else (inp.fps or Fraction(25))
    if in_fps <= 0:
        raise UserError(f"--fps: expected a positive frame rate, got {fps}")
    out_fps = in_fps * time_factor
    if time_factor != 2 and isinstance(model, FFmpegBaseline):
        raise UserError("--time-factor: the ffmpeg baseline interpolates only x2")
    upscaler = StreamingUpscaler(model, tiles=tiles, overlap=overlap, time_factor=time_factor)
    keep_audio = audio and inp.kind == "video"
    if keep_audio and png and _has_audio(inp.path):
        say(f"note: the audio of {inp.path.name} is not kept in PNG frames")
    total = time_factor * (inp.num_frames - 1) + 1 if inp.num_frames else None
    out.parent.mkdir(parents=True, exist_ok=True)
    counter = {"in": 0}
    spent = {"load": time.perf_counter() - t0, "decode": 0.0, "model": 0.0, "encode": 0.0}

    def counted() -> Iterator[Tensor]:
        for f in timed(inp.frames(), spent, "decode"):
            counter["in"] += 1
            yield f.to(device)

    def upscaled() -> Iterator[Tensor]:
        # time in the upscaler minus the decoding it pulled = model time
        before = spent["decode"]
        for frame in timed(upscaler.run(counted()), spent, "model"):
            spent["model"] -= spent["decode"] - before
            before = spent["decode"]
            yield frame
        spent["model"] -= spent["decode"] - before

    def encode(fn: Callable[..., object], *args: object) -> None:
        t = time.perf_counter()
        fn(*args)
        spent["encode"] += time.perf_counter() - t

    bar = tqdm(total=total, unit="frame", desc=f"upscale x{scale}", disable=not progress, dynamic_ncols=True,
               file=sys.stderr)
    written = 0
    tracks: tuple[AudioTrack, ...] = ()
    try:
        if png:
            tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
            try:
                for frame in upscaled():
                    encode(write_image, tmp_dir / f"{written:06d}.png", frame.to("cpu"))
                    written += 1
                    bar.update(1)
                mask = os.umask(0)
                os.umask(mask)
                os.chmod(tmp_dir, 0o777 & ~mask)  # mkdtemp creates 0700
                if out.exists():
                    shutil.rmtree(out)
                os.replace(tmp_dir, out)
            except BaseException:
                shutil.rmtree(tmp_dir, ignore_errors=True)
                raise
        else:
            audio_until = float(max_frames / in_fps) if max_frames is not None and keep_audio else None
            try:
                writer = VideoWriter(out, fps=out_fps, codec=used_codec, crf=crf, preset=preset,
                                     pix_fmt=pix_fmt or "yuv420p", audio_from=inp.path if keep_audio else None,
                                     audio_until=audio_until)
            except ValueError as exc:
                raise UserError(f"--out: {exc}") from exc
            tracks = tuple(writer.audio_tracks)
            changed = [t for t in tracks if t.action != "copy"]
            if changed:
                say("note: audio " + "; ".join(
                    f"stream {t.index} ({t.codec}) " + (f"transcoded to {t.encoder}" if t.action == "transcode"
                                                        else "dropped (no encoder fits)")
                    for t in changed) + f": the {out.suffix} container does not accept it as is")
            try:
                for frame in upscaled():
                    encode(writer.write, frame.to("cpu"))
                    written += 1
                    bar.update(1)
                encode(writer.close)
            except BaseException:
                writer.abort()
                raise
    except ValueError as exc:  # e.g. fewer than 2 frames decoded
        raise UserError(f"{inp.path}: {exc}") from exc
    finally:
        bar.close()
    return UpscaleResult(out, counter["in"], written, inp.height * scale, inp.width * scale, out_fps, used_codec,
                         time.perf_counter() - t0, tracks, {k: round(v, 4) for k, v in spent.items()})


def _has_audio(path: Path) -> bool:
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.error.FFmpegError, OSError):
        return False


def _fps(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a frame rate like 25, 29.97 or 30000/1001, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive frame rate, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``upscale`` options.

    Args:
        parser: the sub-command parser.
    """
    parser.add_argument("input", type=Path, help="video file or folder of frames")
    parser.add_argument("--out", "-o", type=Path, default=None,
                        help="output video file (.mp4, .mkv, ...) or folder (with --format png); default: "
                             "<input name>_stvsr.<ext> beside the input (a folder for frame-folder input)")
    parser.add_argument("--format", dest="fmt", choices=("auto", "video", "png"), default="auto",
                        help="output kind (default auto: PNG frames unless --out has a video suffix)")
    parser.add_argument("--model", default=None,
                        help=f"shipped model name, checkpoint folder or baseline name ({', '.join(BASELINES)}); "
                             "default: the shipped model ('stvsr models' lists them)")
    parser.add_argument("--time-factor", type=int, default=2, metavar="N",
                        help="frame-rate multiplier N >= 2: N-1 frames synthesised at t=k/N per input pair (default 2)")
    parser.add_argument("--tile", type=arg_nonneg_int, default=128, help="LR tile size in pixels (0: whole frames; default 128)")
    parser.add_argument("--tile-overlap", type=arg_nonneg_int, default=16, help="LR tile overlap in pixels (default 16)")
    parser.add_argument("--overlap", choices=("first", "average"), default="first",
                        help="inner frames: first window's SR (default) or the mean of both windows")
    parser.add_argument("--fps", type=_fps, help="input frame rate, e.g. 24 or 30000/1001 (default: the video's; "
                                               "25 for frame folders); the output rate is exactly N times it")
    parser.add_argument("--codec", help="encoder for video output (default: the input's family or libx264/mpeg4)")
    parser.add_argument("--crf", type=int, default=None,
                        help="constant rate factor, lower is better (default: visually lossless, 18 for "
                             "libx264/libx265, 20 for VP9/VP8/AV1; other encoders use a bit rate)")
    parser.add_argument("--preset", default=None,
                        help="encoder preset, libx264/libx265: ultrafast ... medium ... veryslow, placebo "
                             "(default: the encoder's, medium)")
    parser.add_argument("--pix-fmt", default=None,
                        help="output pixel format (default yuv420p, what every player decodes; yuv444p keeps "
                             "full colour resolution)")
    parser.add_argument("--no-audio", action="store_true",
                        help="drop the input's audio (default: copied, or transcoded if the container needs it)")
    parser.add_argument("--max-frames", type=int, help="read at most N input frames")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    """Run the ``upscale`` sub-command.

    Args:
        args: parsed arguments.

    Returns:
        0 on success, 2 on a user error (one line on stderr, no output left behind).
    """
    if str(args.device).startswith("cpu"):
        keep_freed_memory()  # reuse activation memory across model calls (no page faults per call)
    try:
        tiles = TileConfig(tile=args.tile, overlap=args.tile_overlap) if args.tile else None
    except ValueError as exc:
        print(f"error: --tile/--tile-overlap: {exc}", file=sys.stderr)
        return 2
    try:
        res = upscale_video(
            args.input, args.out, model=args.model, fmt=args.fmt, tiles=tiles, overlap=args.overlap, fps=args.fps,
            codec=args.codec, max_frames=args.max_frames, device=args.device, overwrite=args.overwrite,
            progress=not args.no_progress, time_factor=args.time_factor, crf=args.crf, preset=args.preset,
            pix_fmt=args.pix_fmt, audio=not args.no_audio,
        )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return 130
    fps = f"{res.fps}" if res.fps.denominator == 1 else f"{res.fps} ({float(res.fps):.3f})"
    sound = ", ".join(f"{t.codec} {'copied' if t.action == 'copy' else 'as ' + str(t.encoder)}"
                      for t in res.audio if t.action != "drop")
    print(f"wrote {res.output}: {res.frames_out} frames ({res.frames_in} in) at {res.width}x{res.height}, "
          f"{fps} fps, {res.codec}, audio: {sound or 'none'}, {res.seconds:.1f}s "
          f"({res.frames_out / max(res.seconds, 1e-9):.2f} frames/s; "
          + ", ".join(f"{k} {v:.1f}s" for k, v in res.timings.items()) + ")")
    return 0
