r"""Photo-textured video with exact motion: real photographs moved by known, smooth transforms.

A clip is a stack of layers. Layer 0 (the background) is a crop of one photograph under a smooth
camera motion; layers ``1..L`` are pieces cut from other photographs with random smooth, soft-edged
masks, each with its own motion, composited front to back so that they occlude the background and
one another. Every layer ``l`` maps its own coordinates ``u`` (in HR pixels at the reference time)
to image pixel coordinates ``x`` (x = column, y = row, pixel centres at integers) at time ``t``:

$$x = c(\tau) + e^{\zeta\tau} R(\theta_0 + \omega\tau)\,(I + \tau D)\,u,\qquad
c(\tau) = c_0 + v\tau + \tfrac12 a\tau^2,\quad \tau = t - t_{ref},$$

a translation with constant acceleration, a rotation, a zoom and a slow affine drift ``D``
(anisotropic scale and shear). Times are in units of the *LR frame interval*: an STVSR training
window is rendered at times ``(0, t, 1)`` (``t`` random in ``(0, 1)`` for ``random_time=True``)
and an evaluation clip of ``T`` HR frames at ``0, 0.5, 1, ...`` — so the LR input (odd frames) is at
integer times. Speeds are drawn log-uniformly from ``[min_speed, max_speed]`` HR pixels per LR
interval: from sub-pixel motion to several LR pixels.

**Anti-aliasing.** A layer's texture is its photo crop resized with an antialiasing filter to
``supersample`` texels per HR pixel (a photo is never magnified by more than ``supersample``: one HR
pixel covers ``photo_scale >= 1`` photo pixels), frames are sampled bilinearly on a
``supersample``-times finer grid and box-filtered down, so HR frames carry no aliasing a camera would
not produce and their sharpness does not depend on the sub-pixel phase of the motion.

**Flows and masks** follow the library convention: ``flow_{a->b}`` lives on frame b's grid and
points into frame a, so ``backward_warp(frame_a, flow_{a->b}) ~= frame_b``. For every pixel of
frame b the layer on top there (topmost with coverage >= 0.5) is mapped through that layer's
transform from time b to time a, exactly. The mask is ``True`` where the correspondence is usable:
inside frame a, the same layer on top there at time a (not occluded or disoccluded), and neither end
on a soft layer edge (a pixel mixing two layers, where no single flow is right).

**Sources** (:class:`PhotoSource`): any folder of images (png/jpg/bmp/tif/webp; grayscale is
promoted to RGB, alpha dropped), a list of arrays/tensors, or the natural photographs shipped inside
the scikit-image wheel (:data:`EMBEDDED_PHOTOS`), split *by photo* into train / val / test
(:data:`EMBEDDED_SPLITS`), so no photo is in two splits.

Example:
    >>> src = PhotoSource.from_arrays([torch.rand(3, 160, 160), torch.rand(3, 150, 170)])
    >>> clip = render_photo_clip(src, PhotoVideoConfig(height=32, width=40, times=(0.0, 0.5, 1.0), seed=1))
    >>> clip.hr.shape, clip.flows.shape, clip.masks.shape
    (torch.Size([3, 3, 32, 40]), torch.Size([2, 2, 32, 40]), torch.Size([2, 1, 32, 40]))
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from stvsr_blocks.data.synthetic import _check_time, _is_int, _is_real, _ownership

__all__ = [
    "EMBEDDED_PHOTOS",
    "EMBEDDED_SPLITS",
    "MIN_PHOTO_SIZE",
    "PhotoSource",
    "PhotoVideoConfig",
    "PhotoScene",
    "PhotoClip",
    "make_photo_scene",
    "render_photo_frame",
    "photo_flow",
    "render_photo_clip",
    "PhotoVideoDataset",
    "open_photos",
]

#: The natural photographs inside the scikit-image wheel (file in ``skimage/data``, subject, licence as
#: stated in scikit-image's ``skimage.data`` docstrings). Charts, text, synthetic and tiny images are left out.
EMBEDDED_PHOTOS: dict[str, tuple[str, str, str]] = {
    "astronaut": ("astronaut.png", "astronaut Eileen Collins (NASA)", "public domain"),
    "camera": ("camera.png", "man with a camera (grayscale)", "CC0 (Lav Varshney)"),
    "coins": ("coins.png", "Greek coins from Pompeii (grayscale)", "no known copyright restrictions"),
    "hubble_deep_field": ("hubble_deep_field.jpg", "Hubble deep field (NASA)", "public domain"),
    "retina": ("retina.jpg", "fundus photograph of a retina", "CC0 1.0"),
    "motorcycle": ("motorcycle_left.png", "motorcycle, Middlebury 2014 stereo (left view)",
                   "as distributed with scikit-image (Scharstein et al., GCPR 2014)"),
    "brick": ("brick.png", "brick wall texture (grayscale)", "CC0 (CC0Textures)"),
    "grass": ("grass.png", "grass texture (grayscale)", "CC0 (CC0Textures)"),
    "gravel": ("gravel.png", "gravel texture (grayscale)", "CC0 (CC0Textures)"),
    "moon": ("moon.png", "surface of the moon (grayscale)", "as distributed with scikit-image"),
    "immunohistochemistry": ("ihc.png", "immunohistochemistry micrograph", "no known copyright restrictions"),
    "cell": ("cell.png", "cell micrograph (grayscale)", "CC0"),
    "chelsea": ("chelsea.png", "Chelsea the cat", "CC0 (Stefan van der Walt)"),
    "coffee": ("coffee.png", "a cup of coffee", "CC0 (Rachel Michetti)"),
    "rocket": ("rocket.jpg", "DSCOVR launch on Falcon 9 (SpaceX)", "public domain"),
}

#: Fixed split of :data:`EMBEDDED_PHOTOS` by photo: training, validation (during training) and test
#: (held-out evaluation, model cards). No photo is in two splits.
EMBEDDED_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("astronaut", "camera", "coins", "hubble_deep_field", "retina", "motorcycle", "brick", "grass",
              "gravel", "moon", "immunohistochemistry", "cell"),
    "val": ("chelsea",),
    "test": ("coffee", "rocket"),
}

#: Smallest accepted photo side in pixels (a source photo must cover a training frame).
MIN_PHOTO_SIZE: int = 64

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_MIX_EPS = 0.02
_F64 = torch.float64


def _to_rgb_tensor(image: object, name: str) -> Tensor:
    """An HWC/CHW/HW array or tensor (uint8 or float in [0, 1]) as a float32 ``(3, H, W)`` tensor."""
    if isinstance(image, np.ndarray):
        arr = image
    elif isinstance(image, Tensor):
        arr = image.detach().cpu().numpy()
    else:
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(image).__name__}")
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim == 3 and arr.shape[0] not in (1, 3, 4) and arr.shape[-1] in (1, 3, 4):
        arr = np.moveaxis(arr, -1, 0)
    if arr.ndim != 3 or arr.shape[0] not in (1, 3, 4):
        raise ValueError(f"{name}: expected an image of shape (H, W), (H, W, C) or (C, H, W) with C in 1/3/4, "
                         f"got shape {tuple(arr.shape)}")
    if arr.dtype == np.uint8:
        x = torch.from_numpy(np.array(arr, dtype=np.uint8)).float() / 255.0
    elif arr.dtype == np.uint16:
        x = torch.from_numpy(arr.astype(np.float32)) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        x = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise ValueError(f"{name}: float images must be finite and in [0, 1], got range "
                             f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
    else:
        raise TypeError(f"{name}: expected dtype uint8, uint16 or float, got {arr.dtype}")
    x = x[:3] if x.shape[0] >= 3 else x.expand(3, -1, -1)
    h, w = x.shape[-2:]
    if min(h, w) < MIN_PHOTO_SIZE:
        raise ValueError(f"{name}: image is {h}x{w}, smaller than the minimum {MIN_PHOTO_SIZE}x{MIN_PHOTO_SIZE}")
    return x.contiguous()


@lru_cache(maxsize=64)
def _read_photo(path: str) -> Tensor:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("L", "RGB", "RGBA", "I;16", "I"):
                im = im.convert("RGB")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"photo {path!r}: cannot be read as an image ({exc})") from None
    if arr.dtype == np.int32:
        arr = np.clip(arr, 0, 65535).astype(np.uint16)
    return _to_rgb_tensor(arr, f"photo {path!r}")


def _skimage_data_dir() -> Path:
    try:
        import skimage.data
    except ImportError as exc:  # pragma: no cover - scikit-image is a dependency
        raise ImportError("the embedded photos ship inside scikit-image: pip install scikit-image") from exc
    return Path(skimage.data.__file__).parent


class PhotoSource:
    """A collection of photographs to texture videos with (loaded lazily, cached).

    Build it with :meth:`embedded` (the scikit-image photos of one split), :meth:`from_folder` or
    :meth:`from_arrays`.

    Args:
        names: one name per photo.
        paths: image files (``None`` for in-memory photos).
        images: in-memory ``(3, H, W)`` float tensors (``None`` for file photos).

    Example:
        >>> PhotoSource.embedded("test").names
        ['coffee', 'rocket']
    """

    def __init__(self, names: Sequence[str], paths: Sequence[str] | None = None,
                 images: Sequence[Tensor] | None = None) -> None:
        self.names = list(names)
        self._paths = list(paths) if paths is not None else None
        self._images = list(images) if images is not None else None
        if not self.names:
            raise ValueError("photos: expected at least one photo, got none")

    def __len__(self) -> int:
        """Number of photos."""
        return len(self.names)

    def __getitem__(self, index: int) -> Tensor:
        """Photo ``index`` as a float32 ``(3, H, W)`` tensor in ``[0, 1]``.

        Args:
            index: photo index.

        Returns:
            The photo.
        """
        if self._images is not None:
            return self._images[index]
        assert self._paths is not None
        return _read_photo(self._paths[index])

    @classmethod
    def embedded(cls, split: str = "train") -> PhotoSource:
        """The natural photographs of the scikit-image wheel in one split of :data:`EMBEDDED_SPLITS`.

        Args:
            split: ``"train"``, ``"val"``, ``"test"`` or ``"all"``.

        Returns:
            The source.

        Raises:
            ValueError: on an unknown split.
        """
        if split == "all":
            names = [n for s in ("train", "val", "test") for n in EMBEDDED_SPLITS[s]]
        elif split in EMBEDDED_SPLITS:
            names = list(EMBEDDED_SPLITS[split])
        else:
            raise ValueError(f"split: expected one of {sorted(EMBEDDED_SPLITS) + ['all']}, got {split!r}")
        root = _skimage_data_dir()
        return cls(names, paths=[str(root / EMBEDDED_PHOTOS[n][0]) for n in names])

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str], *, check: bool = True) -> PhotoSource:
        """Every image file directly in ``folder`` (sorted by name).

        Args:
            folder: the folder.
            check: decode every image now, so an unreadable or too small file fails here.

        Returns:
            The source.

        Raises:
            FileNotFoundError: if the folder does not exist.
            ValueError: if it holds no image, or an image is unreadable or smaller than :data:`MIN_PHOTO_SIZE`.
        """
        root = Path(folder)
        if not root.is_dir():
            raise FileNotFoundError(f"photos: folder {str(root)!r} does not exist")
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"photos: folder {str(root)!r} holds no image file ({', '.join(_IMAGE_SUFFIXES)})")
        if check:
            for p in files:
                _read_photo(str(p))
        return cls([p.stem for p in files], paths=[str(p) for p in files])

    @classmethod
    def from_arrays(cls, images: Sequence[object], names: Sequence[str] | None = None) -> PhotoSource:
        """Photos from arrays or tensors (HW, HWC or CHW; uint8, uint16 or float in ``[0, 1]``).

        Args:
            images: the images.
            names: their names (default ``photo-<i>``).

        Returns:
            The source.

        Raises:
            TypeError: if an image is not an array/tensor of a supported dtype.
            ValueError: on a bad shape, range, or an image smaller than :data:`MIN_PHOTO_SIZE`.
        """
        imgs = [_to_rgb_tensor(im, f"images[{i}]") for i, im in enumerate(images)]
        return cls(list(names) if names is not None else [f"photo-{i}" for i in range(len(imgs))], images=imgs)


def _as_source(photos: object) -> PhotoSource:
    if isinstance(photos, PhotoSource):
        return photos
    if isinstance(photos, str) and photos in ("train", "val", "test", "all"):
        return PhotoSource.embedded(photos)
    if isinstance(photos, (str, os.PathLike)):
        return PhotoSource.from_folder(photos)
    if isinstance(photos, (list, tuple)):
        return PhotoSource.from_arrays(photos)
    raise TypeError(f"photos: expected a PhotoSource, a split name, a folder or a list of images, "
                    f"got {type(photos).__name__}")


@dataclass(frozen=True)
class PhotoVideoConfig:
    """Parameters of a photo-textured clip (all randomness comes from ``seed``).

    Args:
        height: HR frame height H (>= 8).
        width: HR frame width W (>= 8).
        times: frame times in LR intervals (e.g. ``(0, 0.5, 1)``: LR frames at 0 and 1, the HR middle frame).
        max_layers: the number of foreground layers is drawn uniformly from ``0..max_layers``.
        min_speed: smallest layer speed, HR pixels per LR interval (> 0).
        max_speed: largest layer speed (speeds are log-uniform in ``[min_speed, max_speed]``).
        acceleration: largest acceleration, HR pixels per LR interval².
        rotation: largest angular speed, degrees per LR interval.
        zoom: largest ``|d log(scale) / dt|`` per LR interval.
        drift: largest entry of the affine drift matrix ``D`` per LR interval.
        layer_size: ``(min, max)`` foreground radius as a fraction of ``min(H, W)``.
        edge_width: softness of the foreground edges in HR pixels.
        photo_scale: ``(min, max)`` photo pixels per HR pixel (>= 1: photos are never magnified).
        supersample: render at this many samples per HR pixel per axis, then box-filter down (>= 1).
        seed: seed of the private ``torch.Generator`` (>= 0).

    Raises:
        TypeError: if a field has the wrong type.
        ValueError: if a field is out of range.
    """

    height: int = 96
    width: int = 96
    times: tuple[float, ...] = (0.0, 0.5, 1.0)
    max_layers: int = 2
    min_speed: float = 0.25
    max_speed: float = 16.0
    acceleration: float = 2.0
    rotation: float = 3.0
    zoom: float = 0.04
    drift: float = 0.02
    layer_size: tuple[float, float] = (0.2, 0.4)
    edge_width: float = 0.6
    photo_scale: tuple[float, float] = (1.0, 2.0)
    supersample: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("height", 8), ("width", 8), ("max_layers", 0), ("supersample", 1), ("seed", 0)):
            value = getattr(self, name)
            if not _is_int(value):
                raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
            if value < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {value}")
        for name in ("min_speed", "max_speed", "acceleration", "rotation", "zoom", "drift", "edge_width"):
            value = getattr(self, name)
            if not _is_real(value):
                raise TypeError(f"{name}: expected a finite real number, got {type(value).__name__} {value!r}")
            if value < 0:
                raise ValueError(f"{name}: expected a value >= 0, got {value}")
        if not 0 < self.min_speed <= self.max_speed:
            raise ValueError(f"min_speed, max_speed: expected 0 < min_speed <= max_speed, got "
                             f"{self.min_speed}, {self.max_speed}")
        if self.edge_width <= 0:
            raise ValueError(f"edge_width: expected a value > 0, got {self.edge_width}")
        if self.drift >= 0.2:
            raise ValueError(f"drift: expected a value < 0.2 (the layer transform must stay invertible), got {self.drift}")
        times = self.times
        if not (isinstance(times, tuple) and len(times) >= 1 and all(_is_real(v) for v in times)):
            raise TypeError(f"times: expected a non-empty tuple of real numbers, got {times!r}")
        for name, lo in (("layer_size", 0.0), ("photo_scale", 1.0)):
            pair = getattr(self, name)
            if not (isinstance(pair, tuple) and len(pair) == 2 and all(_is_real(v) for v in pair)):
                raise TypeError(f"{name}: expected a tuple (min, max) of two real numbers, got {pair!r}")
            if not (lo <= pair[0] <= pair[1]) or pair[0] <= 0:
                raise ValueError(f"{name}: expected {lo} <= min <= max (and min > 0), got {pair}")

    @property
    def t_ref(self) -> float:
        """Reference time (the middle of ``times``): the layer transforms are unit zoom there."""
        return 0.5 * (min(self.times) + max(self.times))


@dataclass(frozen=True)
class PhotoScene:
    """The sampled layers of a clip (build with :func:`make_photo_scene`).

    Layer 0 is the background; later layers are on top. ``textures[l]`` is ``(3, Ht, Wt)`` and
    ``alphas[l]`` ``(1, Ht, Wt)`` (all ones for the background); a layer point ``u`` (HR pixels at
    ``t_ref``) sits at texel ``centre_tex[l] + density * u``.

    Args:
        height: frame height H.
        width: frame width W.
        t_ref: reference time.
        density: texels per layer unit (= the supersampling factor).
        centre: ``(L, 2)`` layer centres at ``t_ref`` (x, y).
        velocity: ``(L, 2)`` HR pixels per LR interval.
        accel: ``(L, 2)`` HR pixels per LR interval².
        angle: ``(L,)`` rotation at ``t_ref`` (radians).
        angular_velocity: ``(L,)`` radians per LR interval.
        zoom_rate: ``(L,)`` ``d log(scale) / dt``.
        drift: ``(L, 2, 2)`` affine drift matrices.
        centre_tex: ``(L, 2)`` texel coordinates of ``u = 0``.
        textures: per-layer colour textures.
        alphas: per-layer coverage textures.
        photos: name of the photo each layer was cut from.
    """

    height: int
    width: int
    t_ref: float
    density: int
    centre: Tensor
    velocity: Tensor
    accel: Tensor
    angle: Tensor
    angular_velocity: Tensor
    zoom_rate: Tensor
    drift: Tensor
    centre_tex: Tensor
    textures: tuple[Tensor, ...]
    alphas: tuple[Tensor, ...]
    photos: tuple[str, ...]

    @property
    def n_layers(self) -> int:
        """Number of layers including the background."""
        return int(self.centre.shape[0])


@dataclass
class PhotoClip:
    """A rendered photo-textured clip (it has the attributes of the readers' clips).

    Args:
        name: clip name, e.g. ``"photos-train-0000042"``.
        hr: ``(T, 3, H, W)`` frames in ``[0, 1]``.
        times: the frame times (LR intervals).
        flows: ``(T-1, 2, H, W)`` with ``flows[i] = flow_{i->i+1}`` (``backward_warp(hr[i], flows[i]) ~= hr[i+1]``).
        masks: ``(T-1, 1, H, W)`` bool validity of ``flows``.
        frame_names: one name per frame.
        scene: the :class:`PhotoScene` (flows between any two times: :func:`photo_flow`).
        lr: always ``None`` (degrade ``hr``).
        dataset: ``"photos"``.
        coverage: per frame, the ``(L, H, W)`` layer coverage computed while rendering (reused by
            :meth:`flow_between`).
    """

    name: str
    hr: Tensor
    times: tuple[float, ...]
    flows: Tensor
    masks: Tensor
    frame_names: list[str]
    scene: PhotoScene
    lr: Tensor | None = field(default=None)
    dataset: str = "photos"
    coverage: tuple[Tensor, ...] = field(default=(), repr=False)

    @property
    def frames(self) -> Tensor:
        """The ``(T, 3, H, W)`` frames (same tensor as :attr:`hr`)."""
        return self.hr

    def flow_between(self, a: int, b: int) -> tuple[Tensor, Tensor]:
        """Exact ``flow_{a->b}`` between frames ``a`` and ``b`` (indices) and its validity mask.

        Consecutive pairs come from :attr:`flows`; other pairs reuse the layer coverage of frame ``b``
        computed when the clip was rendered (no frame is rendered twice).

        Args:
            a: source frame index.
            b: target frame index (the flow lives on its grid).

        Returns:
            ``(flow (2, H, W), valid (1, H, W) bool)``.
        """
        if b == a + 1 and b <= self.flows.shape[0]:
            return self.flows[a], self.masks[a]
        if len(self.coverage) == len(self.times):
            return _flow(self.scene, self.times[a], self.times[b], self.coverage[b])
        return photo_flow(self.scene, self.times[a], self.times[b])


def _log_uniform(g: torch.Generator, n: int, low: float, high: float) -> Tensor:
    r = torch.rand(n, generator=g, dtype=_F64)
    return torch.exp(math.log(low) + r * (math.log(high) - math.log(low)))


def _uniform(g: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> Tensor:
    return low + (high - low) * torch.rand(shape, generator=g, dtype=_F64)


def _matrices(scene: PhotoScene, t: float) -> tuple[Tensor, Tensor, Tensor]:
    """Centres ``(L, 2)``, forward matrices ``M`` and inverses ``(L, 2, 2)`` at time ``t``."""
    tau = t - scene.t_ref
    c = scene.centre + scene.velocity * tau + 0.5 * scene.accel * tau * tau
    theta = scene.angle + scene.angular_velocity * tau
    s = torch.exp(scene.zoom_rate * tau)
    cos, sin = torch.cos(theta), torch.sin(theta)
    rot = torch.stack((torch.stack((cos, -sin), -1), torch.stack((sin, cos), -1)), -2)
    eye = torch.eye(2, dtype=_F64).expand_as(scene.drift)
    m = s[:, None, None] * rot @ (eye + tau * scene.drift)
    return c, m, torch.linalg.inv(m)


def _prepare_texture(photo: Tensor, g: torch.Generator, extent: tuple[float, float], density: int,
                     scale_range: tuple[float, float]) -> tuple[Tensor, Tensor]:
    """Cut and antialias-resize a photo crop covering ``extent`` (w, h) layer units; return texture and centre."""
    ph, pw = photo.shape[-2:]
    ew, eh = extent
    k = float(_uniform(g, (1,), *scale_range))
    k = min(k, pw / ew, ph / eh)  # photo pixels per layer unit; < 1 only when the photo is too small
    cw, ch = min(pw, max(2, round(ew * k))), min(ph, max(2, round(eh * k)))
    x0 = int(torch.randint(0, pw - cw + 1, (1,), generator=g))
    y0 = int(torch.randint(0, ph - ch + 1, (1,), generator=g))
    crop = photo[:, y0 : y0 + ch, x0 : x0 + cw]
    tw, th = max(2, round(cw / k * density)), max(2, round(ch / k * density))
    tex = F.interpolate(crop[None], size=(th, tw), mode="bicubic", antialias=True, align_corners=False)[0]
    tex = tex.clamp(0.0, 1.0)
    return tex, torch.tensor([(tw - 1) / 2, (th - 1) / 2], dtype=_F64)


def _blob(g: torch.Generator, radii: tuple[float, float], size: tuple[int, int], density: int,
          edge_width: float) -> Tensor:
    """A smooth random soft-edged mask ``(1, th, tw)``: a noisy ellipse through a logistic edge."""
    th, tw = size
    noise = torch.randn(1, 1, 6, 6, generator=g, dtype=_F64)
    noise = F.interpolate(noise, size=(th, tw), mode="bicubic", align_corners=True)[0, 0]
    ys = (torch.arange(th, dtype=_F64) - (th - 1) / 2) / density
    xs = (torch.arange(tw, dtype=_F64) - (tw - 1) / 2) / density
    r2 = (xs[None] / radii[0]) ** 2 + (ys[:, None] / radii[1]) ** 2
    f = 1.0 - r2 + 0.3 * noise.clamp(-2, 2)
    # |grad f| ~ 2 / R at the edge: a logistic of width w in f is w R / 2 pixels wide
    w = 2.0 * edge_width / min(radii)
    alpha = torch.sigmoid(f / w)
    alpha = torch.where(alpha < 1e-4, torch.zeros_like(alpha), alpha)
    return alpha[None].float()


def make_photo_scene(photos: PhotoSource | object, config: PhotoVideoConfig) -> PhotoScene:
    """Sample the layers of a clip from ``config.seed`` (deterministic; own ``torch.Generator``).

    Args:
        photos: a :class:`PhotoSource` (or a split name, a folder, a list of images).
        config: the clip parameters.

    Returns:
        The scene.

    Raises:
        TypeError: if ``config`` is not a :class:`PhotoVideoConfig` or ``photos`` not a source.
    """
    if not isinstance(config, PhotoVideoConfig):
        raise TypeError(f"config: expected a PhotoVideoConfig, got {type(config).__name__}")
    src = _as_source(photos)
    g = torch.Generator().manual_seed(config.seed)
    h, w, dens = config.height, config.width, config.supersample
    n = 1 + int(torch.randint(0, config.max_layers + 1, (1,), generator=g))
    speed = _log_uniform(g, n, config.min_speed, config.max_speed)
    phi = _uniform(g, (n,), 0.0, 2 * math.pi)
    velocity = torch.stack((speed * torch.cos(phi), speed * torch.sin(phi)), -1)
    acc_phi = _uniform(g, (n,), 0.0, 2 * math.pi)
    acc = _uniform(g, (n,), 0.0, config.acceleration)
    accel = torch.stack((acc * torch.cos(acc_phi), acc * torch.sin(acc_phi)), -1)
    angular_velocity = _uniform(g, (n,), -1.0, 1.0) * math.radians(config.rotation)
    zoom_rate = _uniform(g, (n,), -1.0, 1.0) * config.zoom
    drift = _uniform(g, (n, 2, 2), -1.0, 1.0) * config.drift
    angle = _uniform(g, (n,), -math.pi, math.pi)
    angle[0] = 0.0  # the camera stays upright at the reference time
    centre = torch.stack((_uniform(g, (n,), 0.2, 0.8) * (w - 1), _uniform(g, (n,), 0.2, 0.8) * (h - 1)), -1)
    centre[0] = torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=_F64)
    order = torch.randperm(len(src), generator=g).tolist()
    pick = [order[i % len(order)] for i in range(n)]
    # Background extent: the frame seen from layer coordinates over every time, plus a margin.
    scene0 = PhotoScene(h, w, config.t_ref, dens, centre, velocity, accel, angle, angular_velocity, zoom_rate, drift,
                        torch.zeros(n, 2, dtype=_F64), (), (), ())
    corners = torch.tensor([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], dtype=_F64)
    span = torch.zeros(2, dtype=_F64)
    for t in config.times:
        c, _, minv = _matrices(scene0, float(t))
        u = torch.einsum("ij,nj->ni", minv[0], corners - c[0])
        span = torch.maximum(span, u.abs().amax(0))
    textures, alphas, centres_tex, names = [], [], [], []
    ext = (2 * float(span[0]) + 8, 2 * float(span[1]) + 8)
    tex, ctex = _prepare_texture(src[pick[0]], g, ext, dens, config.photo_scale)
    textures.append(tex)
    alphas.append(torch.ones(1, *tex.shape[-2:]))
    centres_tex.append(ctex)
    names.append(src.names[pick[0]])
    side = min(h, w)
    for layer in range(1, n):
        r = _uniform(g, (2,), *config.layer_size) * side
        radii = (max(3.0, float(r[0])), max(3.0, float(r[1])))
        ext = (2 * radii[0] * 1.4 + 4, 2 * radii[1] * 1.4 + 4)
        tex, ctex = _prepare_texture(src[pick[layer]], g, ext, dens, config.photo_scale)
        textures.append(tex)
        alphas.append(_blob(g, radii, tuple(tex.shape[-2:]), dens, config.edge_width))
        centres_tex.append(ctex)
        names.append(src.names[pick[layer]])
    return replace(scene0, centre_tex=torch.stack(centres_tex), textures=tuple(textures), alphas=tuple(alphas),
                   photos=tuple(names))


def _local(scene: PhotoScene, t: float, pts: Tensor) -> Tensor:
    """Layer coordinates ``(L, N, 2)`` of image points ``pts`` ``(N, 2)`` at time ``t``."""
    c, _, minv = _matrices(scene, t)
    return torch.einsum("lij,lnj->lni", minv, pts[None] - c[:, None])


def _sample(tex: Tensor, q: Tensor, zeros: bool) -> Tensor:
    """Bilinear samples ``(C, N)`` of ``tex`` ``(C, Ht, Wt)`` at texel coordinates ``q`` ``(N, 2)``."""
    th, tw = tex.shape[-2:]
    grid = torch.stack((2 * q[:, 0] / (tw - 1) - 1, 2 * q[:, 1] / (th - 1) - 1), -1).float()
    out = F.grid_sample(tex[None], grid[None, None], mode="bilinear", align_corners=True,
                        padding_mode="zeros" if zeros else "reflection")
    return out[0, :, 0]


def _coverage_at(scene: PhotoScene, t: float, pts: Tensor) -> Tensor:
    """Coverage ``(L, N)`` of every layer at image points ``pts`` at time ``t`` (background = 1)."""
    u = _local(scene, t, pts)
    cov = torch.ones(scene.n_layers, pts.shape[0])
    for layer in range(1, scene.n_layers):
        q = scene.centre_tex[layer] + scene.density * u[layer]
        cov[layer] = _sample(scene.alphas[layer], q, zeros=True)[0]
    return cov


def _grid(h: int, w: int, s: int = 1) -> Tensor:
    ys = (torch.arange(h * s, dtype=_F64) + 0.5) / s - 0.5
    xs = (torch.arange(w * s, dtype=_F64) + 0.5) / s - 0.5
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((xx.reshape(-1), yy.reshape(-1)), -1)


def _render(scene: PhotoScene, t: float) -> tuple[Tensor, Tensor]:
    """Frame ``(3, H, W)`` and pixel coverage ``(L, H, W)`` at time ``t``."""
    h, w, s = scene.height, scene.width, scene.density
    pts = _grid(h, w, s)
    u = _local(scene, t, pts)
    out = _sample(scene.textures[0], scene.centre_tex[0] + s * u[0], zeros=False)
    covs = [torch.ones(h * s * w * s)]
    for layer in range(1, scene.n_layers):
        q = scene.centre_tex[layer] + s * u[layer]
        col = _sample(scene.textures[layer], q, zeros=False)
        a = _sample(scene.alphas[layer], q, zeros=True)
        out = torch.lerp(out, col, a)
        covs.append(a[0])
    frame = F.avg_pool2d(out.reshape(1, 3, h * s, w * s), s)[0]
    cov = F.avg_pool2d(torch.stack(covs).reshape(1, -1, h * s, w * s), s)[0]
    return frame.clamp(0.0, 1.0), cov


def render_photo_frame(scene: PhotoScene | PhotoClip, t: float) -> Tensor:
    """Render the frame at any real time ``t``.

    Args:
        scene: the scene (or a clip carrying it).
        t: time in LR intervals.

    Returns:
        ``(3, H, W)`` float32 frame in ``[0, 1]``.

    Raises:
        TypeError: if ``scene`` is not a scene/clip or ``t`` not a finite real number.
    """
    scene = _scene_of(scene)
    return _render(scene, _check_time(t, "t"))[0]


def _scene_of(source: object) -> PhotoScene:
    if isinstance(source, PhotoClip):
        return source.scene
    if isinstance(source, PhotoScene):
        return source
    raise TypeError(f"scene: expected a PhotoScene or PhotoClip, got {type(source).__name__}")


def _flow(scene: PhotoScene, a: float, b: float, cov_b: Tensor) -> tuple[Tensor, Tensor]:
    h, w = scene.height, scene.width
    pts = _grid(h, w)
    owner_b, mixed_b = _ownership(cov_b.reshape(scene.n_layers, -1), _MIX_EPS)
    u_b = _local(scene, b, pts)
    u_own = u_b[owner_b, torch.arange(pts.shape[0])]
    c_a, m_a, _ = _matrices(scene, a)
    src = c_a[owner_b] + torch.einsum("nij,nj->ni", m_a[owner_b], u_own)
    flow = src - pts
    inside = (src[:, 0] >= 0) & (src[:, 0] <= w - 1) & (src[:, 1] >= 0) & (src[:, 1] <= h - 1)
    owner_a, mixed_a = _ownership(_coverage_at(scene, a, src), _MIX_EPS)
    valid = inside & (owner_a == owner_b) & ~mixed_a & ~mixed_b
    return flow.T.reshape(2, h, w).float(), valid.reshape(1, h, w)


def photo_flow(scene: PhotoScene | PhotoClip, a: float, b: float) -> tuple[Tensor, Tensor]:
    """Exact backward flow ``flow_{a->b}`` between any two times and its validity mask.

    Args:
        scene: the scene (or a clip carrying it).
        a: time of the source frame.
        b: time of the target frame (the flow lives on its grid).

    Returns:
        ``(flow (2, H, W) float32 pixels, valid (1, H, W) bool)``.

    Raises:
        TypeError: if ``scene`` is not a scene/clip or a time is not a finite real number.
    """
    scene = _scene_of(scene)
    a, b = _check_time(a, "a"), _check_time(b, "b")
    return _flow(scene, a, b, _render(scene, b)[1])


def render_photo_clip(photos: PhotoSource | object, config: PhotoVideoConfig, *, name: str | None = None) -> PhotoClip:
    """Render a clip: frames at ``config.times``, flows between consecutive frames and their masks.

    Args:
        photos: a :class:`PhotoSource` (or a split name, a folder, a list of images).
        config: the clip parameters.
        name: clip name; default ``"photos-<seed:07d>"``.

    Returns:
        The :class:`PhotoClip`.
    """
    scene = make_photo_scene(photos, config)
    times = tuple(float(t) for t in config.times)
    frames, covs = zip(*(_render(scene, t) for t in times))
    flows, masks = [], []
    for i in range(1, len(times)):
        f, m = _flow(scene, times[i - 1], times[i], covs[i])
        flows.append(f)
        masks.append(m)
    h, w = config.height, config.width
    return PhotoClip(
        name=name if name is not None else f"photos-{config.seed:07d}",
        hr=torch.stack(frames),
        times=times,
        flows=torch.stack(flows) if flows else torch.empty(0, 2, h, w),
        masks=torch.stack(masks) if masks else torch.empty(0, 1, h, w, dtype=torch.bool),
        frame_names=[f"frame_{i:04d}" for i in range(len(times))],
        scene=scene,
        coverage=tuple(covs),
    )


class PhotoVideoDataset(Dataset):
    """A map-style dataset of ``n_clips`` photo-textured clips; clip ``i`` uses seed ``seed + i``.

    Clips are rendered on access (milliseconds at training sizes), so the dataset holds only the
    photos. With ``random_time=True`` every clip is an STVSR training window rendered at times
    ``(0, t, 1)``, ``t`` drawn per clip: ``0.5`` with probability 1/3 (the ×2 frame rate), otherwise
    uniform in ``[0.05, 0.95]`` (any ×N frame rate).

    Args:
        photos: a :class:`PhotoSource`, a split name of the embedded photos (``"train"``, ``"val"``,
            ``"test"``), a folder of images, or a list of images.
        n_clips: number of clips (>= 1).
        config: clip parameters (``seed`` and, with ``random_time``, ``times`` are replaced per clip).
        seed: seed of the first clip (>= 0).
        random_time: render ``(0, t, 1)`` with a random ``t`` instead of ``config.times``.
        split_name: used in clip names (default: the split name, or ``"photos"``).

    Raises:
        TypeError: on a wrong argument type.
        ValueError: if ``n_clips < 1`` or ``seed < 0``.

    Example:
        >>> ds = PhotoVideoDataset("test", 4, PhotoVideoConfig(height=32, width=32), seed=5)
        >>> len(ds), ds[1].name, tuple(ds[1].hr.shape)
        (4, 'photos-test-0000006', (3, 3, 32, 32))
    """

    def __init__(self, photos: PhotoSource | object, n_clips: int, config: PhotoVideoConfig | None = None,
                 seed: int = 0, *, random_time: bool = False, split_name: str | None = None) -> None:
        if not _is_int(n_clips) or n_clips < 1:
            raise ValueError(f"n_clips: expected an int >= 1, got {n_clips!r}")
        if not _is_int(seed) or seed < 0:
            raise ValueError(f"seed: expected an int >= 0, got {seed!r}")
        config = config if config is not None else PhotoVideoConfig()
        if not isinstance(config, PhotoVideoConfig):
            raise TypeError(f"config: expected a PhotoVideoConfig or None, got {type(config).__name__}")
        self.split_name = split_name or (photos if isinstance(photos, str) and os.path.sep not in photos
                                         and photos in ("train", "val", "test", "all") else "photos")
        self.photos = _as_source(photos)
        self.n_clips = n_clips
        self.config = config
        self.seed = seed
        self.random_time = bool(random_time)

    def __len__(self) -> int:
        """Number of clips."""
        return self.n_clips

    def clip_config(self, index: int) -> PhotoVideoConfig:
        """The config of clip ``index`` (its seed and, with ``random_time``, its times).

        Args:
            index: clip index in ``[0, len)``.

        Returns:
            The config.

        Raises:
            IndexError: if ``index`` is out of range.
        """
        if not _is_int(index) or not 0 <= index < self.n_clips:
            raise IndexError(f"index: expected 0 <= index < {self.n_clips}, got {index!r}")
        seed = self.seed + index
        cfg = replace(self.config, seed=seed)
        if self.random_time:
            rng = np.random.default_rng([seed, 7])
            t = 0.5 if rng.random() < 1 / 3 else float(rng.uniform(0.05, 0.95))
            cfg = replace(cfg, times=(0.0, t, 1.0))
        return cfg

    def __getitem__(self, index: int) -> PhotoClip:
        """Render clip ``index``.

        Args:
            index: clip index.

        Returns:
            The clip, named ``"photos-<split>-<seed:07d>"``.
        """
        cfg = self.clip_config(index)
        return render_photo_clip(self.photos, cfg, name=f"photos-{self.split_name}-{cfg.seed:07d}")


def open_photos(
    root: str | os.PathLike[str] | None = None,
    split: str = "train",
    *,
    n_clips: int = 8,
    config: PhotoVideoConfig | None = None,
    size: tuple[int, int] | None = None,
    frames: int | None = None,
    seed: int = 0,
    max_frames: int | None = None,
    random_time: bool = False,
) -> PhotoVideoDataset:
    """The reader of the ``photos`` layout (``open_dataset("photos", root, split, ...)``).

    Args:
        root: a folder of stills to texture the clips with; ``None``: the embedded photos of ``split``.
        split: ``"train"``, ``"val"`` or ``"test"``: the embedded photos used when ``root`` is ``None``
            (:data:`EMBEDDED_SPLITS`, disjoint by photo).
        n_clips: number of clips (>= 1).
        config: clip parameters; default :class:`PhotoVideoConfig()`.
        size: ``(height, width)`` replacing the config's.
        frames: frames per clip: times ``0, 0.5, 1, ...`` (the evaluation convention) replacing the config's.
        seed: seed of the first clip.
        max_frames: at most this many frames (times) per clip.
        random_time: render training windows at times ``(0, t, 1)`` with a random ``t``.

    Returns:
        The :class:`PhotoVideoDataset`.

    Raises:
        ValueError: if ``split`` is not a photo split or an option is out of range.
        FileNotFoundError: if ``root`` holds no usable photo.

    Example:
        >>> open_photos(None, "test", n_clips=2, size=(32, 32), frames=3)[1].hr.shape
        torch.Size([3, 3, 32, 32])
    """
    if split not in ("train", "val", "test"):
        raise ValueError(f"split: expected one of ('train', 'val', 'test') for layout 'photos', got {split!r}")
    cfg = config if config is not None else PhotoVideoConfig()
    if size is not None:
        cfg = replace(cfg, height=size[0], width=size[1])
    times = cfg.times if frames is None else tuple(k / 2 for k in range(frames))
    if max_frames is not None:
        times = times[:max_frames]
    if times != cfg.times:
        cfg = replace(cfg, times=times)
    return PhotoVideoDataset(root if root else split, n_clips, cfg, seed=seed, random_time=random_time)
