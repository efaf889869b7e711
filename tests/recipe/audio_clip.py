"""Test helper (PyAV and NumPy only, so it also runs outside the checkout): a small video with a sound track."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np


def make_clip(path: str, *, frames: int = 10, fps: int | Fraction = 10, size: int = 32, audio_codec: str = "aac",
              rate: int = 44100, video_codec: str = "libx264", audio: bool = True, video_start: int = 0,
              audio_seconds: float | None = None) -> float:
    """Write ``frames`` moving-gradient frames and (optionally) a 440 Hz stereo tone as long as the video.

    Args:
        path: output file (the suffix picks the container).
        frames: number of video frames.
        fps: frame rate (exact).
        size: frame height and width.
        audio_codec: audio encoder (e.g. ``"aac"``, ``"pcm_s16le"``).
        rate: audio sample rate.
        video_codec: video encoder.
        audio: add the audio stream.
        video_start: index of the first video frame's timestamp (the video starts ``video_start / fps`` after
            the audio).
        audio_seconds: audio duration (default: the video's, ``frames / fps``).

    Returns:
        The audio duration in seconds.
    """
    fps = Fraction(fps)
    ys, xs = np.mgrid[0:size, 0:size]
    with av.open(path, "w") as c:
        v = c.add_stream(video_codec, rate=fps)
        v.width = v.height = size
        v.pix_fmt = "yuv420p"
        a = c.add_stream(audio_codec, rate=rate, layout="stereo") if audio else None
        for i in range(frames):
            img = np.stack([(xs * 8 + 16 * i) % 256, (ys * 8) % 256, np.full_like(xs, 40 + 10 * i)], -1)
            vf = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
            vf.pts, vf.time_base = video_start + i, 1 / fps
            for p in v.encode(vf):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is None:
            return 0.0
        total = int(round((frames / fps if audio_seconds is None else audio_seconds) * rate))
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(total) / rate)).astype(np.float32)
        fmt = a.codec_context.format.name
        step = a.codec_context.frame_size or 1024
        for start in range(0, total, step):
            chunk = tone[start:start + step]
            arr = np.stack([chunk, chunk]) if fmt.endswith("p") else np.stack([chunk, chunk], 1).reshape(1, -1)
            if fmt.startswith("s16"):
                arr = (arr * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt, layout="stereo")
            frame.sample_rate = rate
            frame.pts = start
            for p in a.encode(frame):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return float(total / rate)
