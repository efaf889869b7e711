r"""Procedural synthetic videos with exact ground-truth motion (the library's built-in data).

A clip is a stack of layers: an infinite textured background plus ``n_layers`` textured sprites
(rounded rectangles / ellipses drawn as super-ellipses with a soft, about one-pixel, anti-aliased
edge) composited front to back, so sprites occlude the background and each other. Every layer moves
with its own smooth similarity transform (translation with constant velocity and acceleration,
constant angular velocity, constant zoom rate):

$$x = c(t) + s(t)\,R(\theta(t))\,u,\qquad c(t) = c_0 + v\tau + \tfrac12 a\tau^2,\quad
\theta(t) = \theta_0 + \omega\tau,\quad s(t) = e^{\zeta\tau},\quad \tau = t - \tfrac{T-1}{2},$$

where $u$ are the layer's own (texture) coordinates and $x$ image pixel coordinates (x = column,
y = row, pixel centres at integers, as :func:`~stvsr_blocks.ops.base_grid`). Textures are continuous
functions of $u$ (a base colour, random coloured sinusoids including very low "gradient"
frequencies, and smooth-stepped stripes ``tanh(k sin(.))`` that give sharp-ish edges), band-limited
by ``texture_frequency`` so that bilinear warping is accurate.

Frames are rendered by sampling these continuous textures at the inverse-transformed pixel
coordinates (never by warping a previous frame), at any real time ``t``, so they are exact. The
ground-truth flow follows the library convention: ``flow_{a->b}`` lives on frame b's grid and
points into frame a, so ``backward_warp(frame_a, flow_{a->b}) ~= frame_b``. It is computed
analytically: for every pixel of frame b take the layer on top there (the topmost layer with
coverage >= 0.5) and map the pixel through that layer's transform back to its position in frame a.

The validity mask is ``True`` where that correspondence is usable: the source point lies inside
frame a (``0 <= x <= W-1``, ``0 <= y <= H-1``), the same layer is on top there in frame a (not
occluded / disoccluded), and neither end lies on an anti-aliased layer boundary (a pixel whose colour
mixes two layers, where bilinear warping cannot be exact).

Example:
    >>> clip = render_synthetic_clip(SyntheticVideoConfig(height=32, width=40, frames=3, seed=1))
    >>> clip.hr.shape, clip.flows.shape, clip.masks.shape
    (torch.Size([3, 3, 32, 40]), torch.Size([2, 2, 32, 40]), torch.Size([2, 1, 32, 40]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = [
    "HELDOUT_SEED_OFFSET",
    "SyntheticVideoConfig",
    "SyntheticScene",
    "SyntheticClip",
    "make_scene",
    "render_frame",
    "synthetic_flow",
    "render_synthetic_clip",
    "SyntheticVideoDataset",
    "heldout_synthetic_dataset",
    "open_synthetic",
]

#: Seeds at or above this value are reserved for held-out evaluation clips
#: (:func:`heldout_synthetic_dataset`); training datasets may not reach into this range.
HELDOUT_SEED_OFFSET: int = 1_000_000

_MIX_EPS = 0.01  # coverage in (eps, 1 - eps) counts as an anti-aliased (mixed) boundary pixel
_F64 = torch.float64


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class SyntheticVideoConfig:
    """Parameters of a synthetic clip (all randomness comes from ``seed``).

    Args:
        height: frame height H in pixels (>= 1, any value, odd allowed).
        width: frame width W in pixels (>= 1).
        frames: number of frames T (>= 1).
        n_layers: number of foreground sprites over the background (>= 0; 0 disables occlusion).
        max_speed: largest initial speed of a layer, pixels per frame (each layer's velocity is drawn
            uniformly from the disc of this radius).
        acceleration: largest acceleration magnitude, pixels per frame² (0 = constant velocity; > 0 makes
            the motion quadratic in time).
        rotation: largest angular speed, degrees per frame (drawn uniformly in ``[-rotation, rotation]``).
        zoom: largest zoom rate, ``|d log(scale) / dt|`` per frame.
        background_motion: whether the background moves too (a camera pan/rotation/zoom); ``False``
            keeps it static.
        sprite_size: ``(min, max)`` sprite half-extent as a fraction of ``min(H, W)``.
        edge_width: softness of the sprite edges in pixels (logistic width; about 4× this is the
            visible transition).
        texture_frequency: highest spatial frequency of the texture sinusoids, cycles per pixel
            (in ``(0, 0.5]``; higher means more detail but less accurate bilinear warping).
        n_waves: number of coloured sinusoids per layer texture (>= 1).
        stripe_sharpness: steepness ``k`` of the ``tanh(k sin(.))`` stripes (0 disables stripes).
        seed: seed of the private ``torch.Generator`` (>= 0); the global RNG is never used.

    Raises:
        TypeError: if an integer field is not an ``int`` or a real field is not a real number.
        ValueError: if a field is out of its range.

    Example:
        >>> SyntheticVideoConfig(height=64, width=64, frames=7, seed=3).n_layers
        3
    """

    height: int = 128
    width: int = 128
    frames: int = 7
    n_layers: int = 3
    max_speed: float = 3.0
    acceleration: float = 0.2
    rotation: float = 2.0
    zoom: float = 0.02
    background_motion: bool = True
    sprite_size: tuple[float, float] = (0.12, 0.28)
    edge_width: float = 0.3
    texture_frequency: float = 0.15
    n_waves: int = 6
    stripe_sharpness: float = 3.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("height", 1), ("width", 1), ("frames", 1), ("n_layers", 0), ("n_waves", 1), ("seed", 0)):
            value = getattr(self, name)
            if not _is_int(value):
                raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
            if value < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {value}")
        for name in ("max_speed", "acceleration", "rotation", "zoom", "stripe_sharpness"):
            value = getattr(self, name)
            if not _is_real(value):
                raise TypeError(f"{name}: expected a finite real number, got {type(value).__name__} {value!r}")
            if value < 0:
                raise ValueError(f"{name}: expected a value >= 0, got {value}")
        if not _is_real(self.edge_width):
            raise TypeError(f"edge_width: expected a finite real number, got {type(self.edge_width).__name__}")
        if self.edge_width <= 0:
            raise ValueError(f"edge_width: expected a value > 0, got {self.edge_width}")
        if not _is_real(self.texture_frequency):
            raise TypeError(
                f"texture_frequency: expected a finite real number, got {type(self.texture_frequency).__name__}"
            )
        if not 0 < self.texture_frequency <= 0.5:
            raise ValueError(f"texture_frequency: expected a value in (0, 0.5], got {self.texture_frequency}")
        if not isinstance(self.background_motion, bool):
            raise TypeError(f"background_motion: expected a bool, got {type(self.background_motion).__name__}")
        size = self.sprite_size
        if not (isinstance(size, tuple) and len(size) == 2 and all(_is_real(v) for v in size)):
            raise TypeError(f"sprite_size: expected a tuple (min, max) of two real numbers, got {size!r}")
        if not 0 < size[0] <= size[1]:
            raise ValueError(f"sprite_size: expected 0 < min <= max, got {size}")


@dataclass(frozen=True)
class SyntheticScene:
    """The sampled parameters of a clip: layer motions, shapes and textures (float64 tensors).

    Layer 0 is the background (infinite extent); layers ``1..L`` are sprites, later ones on top.
    Build it with :func:`make_scene`; render with :func:`render_frame`, query motion with
    :func:`synthetic_flow`.

    Args:
        height: frame height H.
        width: frame width W.
        frames: number of frames T of the clip (times ``0 .. T-1``; any real time can be rendered).
        t_ref: reference time at which ``centre``, ``angle`` and unit scale hold (``(T-1)/2``).
        centre: ``(L+1, 2)`` layer centre ``(x, y)`` in pixels at ``t_ref``.
        velocity: ``(L+1, 2)`` velocity in pixels per frame at ``t_ref``.
        accel: ``(L+1, 2)`` acceleration in pixels per frame².
        angle: ``(L+1,)`` rotation angle at ``t_ref`` (radians).
        angular_velocity: ``(L+1,)`` radians per frame.
        zoom_rate: ``(L+1,)`` ``d log(scale) / dt`` per frame.
        radii: ``(L+1, 2)`` sprite half-extents in texture units (``inf`` for the background).
        power: ``(L+1,)`` super-ellipse exponent, a power of two (2 = ellipse, 4 and 8 = rounded rectangles).
        base: ``(L+1, 3)`` base RGB colour.
        wave_freq: ``(L+1, K, 2)`` sinusoid frequency vectors, cycles per texture unit.
        wave_phase: ``(L+1, K)`` phases (radians).
        wave_amp: ``(L+1, K, 3)`` per-channel amplitudes.
        stripe_freq: ``(L+1, 2)`` stripe frequency vectors.
        stripe_phase: ``(L+1,)`` stripe phases.
        stripe_amp: ``(L+1, 3)`` stripe amplitudes.
        stripe_sharpness: steepness ``k`` of ``tanh(k sin(.))``.
        edge_width: sprite edge softness in pixels.
    """

    height: int
    width: int
    frames: int
    t_ref: float
    centre: Tensor
    velocity: Tensor
    accel: Tensor
    angle: Tensor
    angular_velocity: Tensor
    zoom_rate: Tensor
    radii: Tensor
    power: Tensor
    base: Tensor
    wave_freq: Tensor
    wave_phase: Tensor
    wave_amp: Tensor
    stripe_freq: Tensor
    stripe_phase: Tensor
    stripe_amp: Tensor
    stripe_sharpness: float
    edge_width: float

    @property
    def n_layers(self) -> int:
        """Number of layers including the background."""
        return int(self.centre.shape[0])


@dataclass
class SyntheticClip:
    """A rendered synthetic clip; it has the attributes of the dataset readers' clips.

    Args:
        name: clip name for reporting (e.g. ``"synthetic-0000042"``).
        hr: ``(T, 3, H, W)`` frames in ``[0, 1]`` (float32).
        flows: ``(T-1, 2, H, W)`` backward flows; ``flows[i]`` is ``flow_{i->i+1}`` on frame ``i+1``'s grid,
            so ``backward_warp(hr[i], flows[i]) ~= hr[i+1]`` (float32, pixels, channel 0 = x).
        masks: ``(T-1, 1, H, W)`` bool validity masks of ``flows`` (``False`` = occluded, out of frame or
            on an anti-aliased layer boundary).
        frame_names: one name per frame (``"frame_0000"``, ...).
        scene: the :class:`SyntheticScene` it was rendered from, for flows between any two times and
            frames at intermediate times.
        lr: low-resolution frames; always ``None`` here (degrade ``hr`` with
            :mod:`stvsr_blocks.data.degrade`).
        dataset: source name, ``"synthetic"`` (as ``Clip.dataset`` of the readers).
    """

    name: str
    hr: Tensor
    flows: Tensor
    masks: Tensor
    frame_names: list[str]
    scene: SyntheticScene
    lr: Tensor | None = field(default=None)
    dataset: str = "synthetic"

    @property
    def frames(self) -> Tensor:
        """The ``(T, 3, H, W)`` frames (same tensor as :attr:`hr`)."""
        return self.hr

    def flow_between(self, a: int, b: int) -> tuple[Tensor, Tensor]:
        """Exact ``flow_{a->b}`` between frames ``a`` and ``b`` and its validity mask (see :func:`synthetic_flow`).

        Args:
            a: source frame index.
            b: target frame index (the flow lives on its grid).

        Returns:
            ``(flow (2, H, W), valid (1, H, W) bool)``.
        """
        return synthetic_flow(self.scene, float(a), float(b))


def _disc(g: torch.Generator, n: int, radius: float) -> Tensor:
    """``n`` points uniform in the disc of ``radius`` (``(n, 2)``)."""
    r = radius * torch.sqrt(torch.rand(n, generator=g, dtype=_F64))
    phi = 2 * math.pi * torch.rand(n, generator=g, dtype=_F64)
    return torch.stack((r * torch.cos(phi), r * torch.sin(phi)), dim=-1)


def _uniform(g: torch.Generator, shape: tuple[int, ...], low: float, high: float) -> Tensor:
    return low + (high - low) * torch.rand(shape, generator=g, dtype=_F64)


def make_scene(config: SyntheticVideoConfig) -> SyntheticScene:
    """Sample the layers of a clip from ``config.seed`` (deterministic; own ``torch.Generator``).

    Args:
        config: the clip parameters.

    Returns:
        The scene; identical seeds give bit-identical scenes.

    Raises:
        TypeError: if ``config`` is not a :class:`SyntheticVideoConfig`.

    Example:
        >>> make_scene(SyntheticVideoConfig(n_layers=2)).n_layers
        3
    """
    if not isinstance(config, SyntheticVideoConfig):
        raise TypeError(f"config: expected a SyntheticVideoConfig, got {type(config).__name__}")
    g = torch.Generator().manual_seed(config.seed)
    h, w, n = config.height, config.width, config.n_layers + 1
    k = config.n_waves
    # Motion.
    centre = torch.stack(
        (_uniform(g, (n,), 0.15, 0.85) * (w - 1), _uniform(g, (n,), 0.15, 0.85) * (h - 1)), dim=-1
    )
    centre[0] = torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=_F64)
    velocity = _disc(g, n, config.max_speed)
    accel = _disc(g, n, config.acceleration)
    angle = _uniform(g, (n,), 0.0, 2 * math.pi)
    angular_velocity = _uniform(g, (n,), -1.0, 1.0) * math.radians(config.rotation)
    zoom_rate = _uniform(g, (n,), -1.0, 1.0) * config.zoom
    if not config.background_motion:
        velocity[0] = 0.0
        accel[0] = 0.0
        angular_velocity[0] = 0.0
        zoom_rate[0] = 0.0
    # Shapes.
    side = min(h, w)
    radii = torch.clamp(_uniform(g, (n, 2), *config.sprite_size) * side, min=2.0)
    radii[0] = math.inf
    power = 2.0 ** torch.randint(1, 4, (n,), generator=g).to(_F64)  # 2 (ellipse), 4 or 8 (rounded rectangle)
    # Textures: amplitudes are budgeted so that every colour stays in [0, 1] without clamping.
    base = _uniform(g, (n, 3), 0.3, 0.7)
    fmax = config.texture_frequency
    mag = _uniform(g, (n, k), 0.0, 1.0)
    mag = fmax * mag**1.5  # more low than high frequencies
    mag[:, 0] = _uniform(g, (n,), 0.1, 0.5) / max(side, 8)  # a slow "gradient" component
    ori = _uniform(g, (n, k), 0.0, 2 * math.pi)
    wave_freq = torch.stack((mag * torch.cos(ori), mag * torch.sin(ori)), dim=-1)
    wave_phase = _uniform(g, (n, k), 0.0, 2 * math.pi)
    colour = _uniform(g, (n, k, 3), -1.0, 1.0)
    colour = colour / colour.abs().amax(dim=-1, keepdim=True).clamp_min(1e-6)
    weight = _uniform(g, (n, k), 0.3, 1.0)
    weight = 0.2 * weight / weight.sum(dim=-1, keepdim=True)
    wave_amp = colour * weight[..., None]
    smag = _uniform(g, (n,), 0.015, 0.04)
    sori = _uniform(g, (n,), 0.0, 2 * math.pi)
    stripe_freq = torch.stack((smag * torch.cos(sori), smag * torch.sin(sori)), dim=-1)
    stripe_phase = _uniform(g, (n,), 0.0, 2 * math.pi)
    scol = _uniform(g, (n, 3), -1.0, 1.0)
    stripe_amp = 0.09 * scol / scol.abs().amax(dim=-1, keepdim=True).clamp_min(1e-6)
    if config.stripe_sharpness == 0:
        stripe_amp = torch.zeros_like(stripe_amp)
    return SyntheticScene(
        height=h, width=w, frames=config.frames, t_ref=(config.frames - 1) / 2,
        centre=centre, velocity=velocity, accel=accel, angle=angle, angular_velocity=angular_velocity,
        zoom_rate=zoom_rate, radii=radii, power=power, base=base, wave_freq=wave_freq, wave_phase=wave_phase,
        wave_amp=wave_amp, stripe_freq=stripe_freq, stripe_phase=stripe_phase, stripe_amp=stripe_amp,
        stripe_sharpness=float(config.stripe_sharpness), edge_width=float(config.edge_width),
    )


def _pose(scene: SyntheticScene, t: float) -> tuple[Tensor, Tensor, Tensor]:
    """Layer centres ``(L, 2)``, forward matrices ``M = s R`` and their inverses ``(L, 2, 2)`` at time t."""
    tau = t - scene.t_ref
    c = scene.centre + scene.velocity * tau + 0.5 * scene.accel * tau * tau
    theta = scene.angle + scene.angular_velocity * tau
    s = torch.exp(scene.zoom_rate * tau)
    cos, sin = torch.cos(theta), torch.sin(theta)
    m = torch.stack((torch.stack((cos, -sin), -1), torch.stack((sin, cos), -1)), -2) * s[:, None, None]
    minv = torch.stack((torch.stack((cos, sin), -1), torch.stack((-sin, cos), -1)), -2) / s[:, None, None]
    return c, m, minv


def _to_local(scene: SyntheticScene, t: float, pts: Tensor) -> Tensor:
    """Texture coordinates ``(L, N, 2)`` of image points ``pts`` ``(N, 2)`` at time t, for every layer."""
    c, _, minv = _pose(scene, t)
    d = pts[None] - c[:, None]  # (L, N, 2)
    return torch.einsum("lij,lnj->lni", minv, d)


def _coverage(scene: SyntheticScene, t: float, u: Tensor) -> Tensor:
    """Coverage (alpha) ``(L, N)`` of every layer at local coordinates ``u``; background = 1."""
    alpha = torch.ones(u.shape[:2], dtype=_F64)
    if scene.n_layers == 1:
        return alpha
    scale = torch.exp(scene.zoom_rate * (t - scene.t_ref))
    for layer in range(1, scene.n_layers):
        # Super-ellipse radius rho = (|x|^p + |y|^p)^(1/p) with p = 2^m: squarings and square roots only.
        m = int(round(math.log2(float(scene.power[layer]))))
        x = (u[layer, :, 0] / scene.radii[layer, 0]).square()
        y = (u[layer, :, 1] / scene.radii[layer, 1]).square()
        for _ in range(m - 1):
            x, y = x.square(), y.square()
        rho = x + y
        for _ in range(m):
            rho = rho.sqrt()
        dist_px = (rho - 1.0) * (scene.radii[layer].min() * scale[layer])
        alpha[layer] = torch.sigmoid(dist_px / -scene.edge_width)
    return alpha


def _grid_texture(scene: SyntheticScene, t: float) -> Tensor:
    """Layer colours ``(L, 3, H, W)`` on the pixel grid at time t.

    Every texture term is a sinusoid of the texture coordinates ``u``, and ``u`` is affine in the pixel
    coordinates, so each term is ``sin(2π(g_x x + g_y y) + φ')``: separable in x and y. The sum over
    sinusoids then is a small batched matrix product, much cheaper than evaluating per pixel.
    """
    h, w = scene.height, scene.width
    c, _, minv = _pose(scene, t)
    xs = torch.arange(w, dtype=_F64)
    ys = torch.arange(h, dtype=_F64)

    def parts(freq: Tensor, phase: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        # freq (L, K, 2) in texture units -> image frequencies g (L, K, 2); phase (L, K).
        g = torch.einsum("lji,lkj->lki", minv, freq)
        phi = phase - 2 * math.pi * torch.einsum("lki,li->lk", g, c)
        ax = 2 * math.pi * g[..., 0, None] * xs  # (L, K, W)
        ay = 2 * math.pi * g[..., 1, None] * ys + phi[..., None]  # (L, K, H)
        return torch.sin(ax), torch.cos(ax), torch.sin(ay), torch.cos(ay)

    sx, cx, sy, cy = parts(scene.wave_freq, scene.wave_phase)
    # sin(ax + ay) = sin(ax) cos(ay) + cos(ax) sin(ay); contract over the K sinusoids.
    col = torch.einsum("lkh,lkc,lkw->lchw", cy, scene.wave_amp, sx)
    col = col + torch.einsum("lkh,lkc,lkw->lchw", sy, scene.wave_amp, cx)
    col = col + scene.base[:, :, None, None]
    sx, cx, sy, cy = parts(scene.stripe_freq[:, None], scene.stripe_phase[:, None])
    wave = cy[:, 0, :, None] * sx[:, 0, None, :] + sy[:, 0, :, None] * cx[:, 0, None, :]  # (L, H, W)
    stripes = torch.tanh(scene.stripe_sharpness * wave)
    return col + stripes[:, None] * scene.stripe_amp[:, :, None, None]


def _ownership(alpha: Tensor, eps: float = _MIX_EPS) -> tuple[Tensor, Tensor]:
    """Top layer index ``(N,)`` (topmost with alpha >= 0.5) and a mixed-boundary flag ``(N,)`` (a layer
    above the owner with alpha > ``eps``, or the owner's own alpha < ``1 - eps``)."""
    n_layers = alpha.shape[0]
    idx = torch.arange(n_layers)[:, None]
    on_top = (alpha >= 0.5) | (idx == 0)
    owner = torch.where(on_top, idx, torch.zeros_like(idx)).amax(dim=0)
    above = (idx > owner[None]) & (alpha > eps)
    partial = (idx == owner[None]) & (idx > 0) & (alpha < 1 - eps)
    return owner, (above | partial).any(dim=0)


def _grid_points(h: int, w: int) -> Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, dtype=_F64), torch.arange(w, dtype=_F64), indexing="ij")
    return torch.stack((xs.reshape(-1), ys.reshape(-1)), dim=-1)


def _check_time(value: object, name: str) -> float:
    if isinstance(value, Tensor) and value.numel() == 1:
        value = float(value)
    if not _is_real(value):
        raise TypeError(f"{name}: expected a finite real number (a frame time), got {type(value).__name__} {value!r}")
    return float(value)


def _scene_of(source: object, name: str) -> SyntheticScene:
    if isinstance(source, SyntheticClip):
        return source.scene
    if isinstance(source, SyntheticScene):
        return source
    raise TypeError(f"{name}: expected a SyntheticScene or SyntheticClip, got {type(source).__name__}")


def render_frame(scene: SyntheticScene | SyntheticClip, t: float) -> Tensor:
    """Render the frame at any real time ``t`` (integers are the clip's frames, ``t=0.5`` lies between).

    Args:
        scene: the scene (or a clip carrying it).
        t: time in frames.

    Returns:
        ``(3, H, W)`` float32 frame in ``[0, 1]``.

    Raises:
        TypeError: if ``scene`` is not a scene/clip or ``t`` not a finite real number.

    Example:
        >>> scene = make_scene(SyntheticVideoConfig(height=16, width=16, frames=3))
        >>> render_frame(scene, 0.5).shape
        torch.Size([3, 16, 16])
    """
    scene = _scene_of(scene, "scene")
    t = _check_time(t, "t")
    return _render(scene, t, _grid_state(scene, t))


def _grid_state(scene: SyntheticScene, t: float) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Grid points, texture coordinates, coverage, top layer and mixed flag at time t."""
    pts = _grid_points(scene.height, scene.width)
    u = _to_local(scene, t, pts)
    alpha = _coverage(scene, t, u)
    owner, mixed = _ownership(alpha)
    return pts, u, alpha, owner, mixed


def _render(scene: SyntheticScene, t: float, state: tuple[Tensor, ...]) -> Tensor:
    h, w = scene.height, scene.width
    alpha = state[2].reshape(-1, 1, h, w)
    tex = _grid_texture(scene, t)
    out = tex[0]
    for layer in range(1, scene.n_layers):
        out = torch.lerp(out, tex[layer], alpha[layer])
    return out.clamp(0.0, 1.0).to(torch.float32)


def synthetic_flow(source: SyntheticScene | SyntheticClip, a: float, b: float) -> tuple[Tensor, Tensor]:
    """Exact backward flow ``flow_{a->b}`` between any two times and its validity mask.

    For every pixel ``p`` of frame ``b``, with ``l`` the layer on top at ``p``, the flow is
    $T_l(a)\\,T_l(b)^{-1}(p) - p$, so that ``backward_warp(frame_a, flow) ~= frame_b``.

    Args:
        source: the scene, or a :class:`SyntheticClip` carrying it.
        a: time of the source frame (any real number; frames are at ``0 .. T-1``).
        b: time of the target frame whose grid the flow lives on.

    Returns:
        ``(flow, valid)``: ``flow`` ``(2, H, W)`` float32 in pixels (channel 0 = x, 1 = y) and ``valid``
        ``(1, H, W)`` bool, ``False`` where the source point is out of frame a, occluded by (or
        disoccluded from) another layer, or either end lies on an anti-aliased layer boundary.

    Raises:
        TypeError: if ``source`` is not a scene/clip or a time is not a finite real number.

    Example:
        >>> cfg = SyntheticVideoConfig(height=8, width=8, n_layers=0, rotation=0.0, zoom=0.0, acceleration=0.0)
        >>> scene = make_scene(cfg)
        >>> flow, valid = synthetic_flow(scene, 0, 1)
        >>> torch.allclose(flow[:, 0, 0], -scene.velocity[0].float())
        True
    """
    scene = _scene_of(source, "source")
    a = _check_time(a, "a")
    b = _check_time(b, "b")
    return _flow(scene, a, _grid_state(scene, b))


def _flow(scene: SyntheticScene, a: float, state_b: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
    h, w = scene.height, scene.width
    pts, u_b, _, owner_b, mixed_b = state_b
    n = pts.shape[0]
    u_own = u_b[owner_b, torch.arange(n)]  # (N, 2)
    c_a, m_a, _ = _pose(scene, a)
    src = c_a[owner_b] + torch.einsum("nij,nj->ni", m_a[owner_b], u_own)
    flow = src - pts
    inside = (src[:, 0] >= 0) & (src[:, 0] <= w - 1) & (src[:, 1] >= 0) & (src[:, 1] <= h - 1)
    owner_a, mixed_a = _ownership(_coverage(scene, a, _to_local(scene, a, src)))
    valid = inside & (owner_a == owner_b) & ~mixed_a & ~mixed_b
    return flow.T.reshape(2, h, w).to(torch.float32), valid.reshape(1, h, w)


def render_synthetic_clip(config: SyntheticVideoConfig, *, name: str | None = None) -> SyntheticClip:
    """Render a whole clip: frames, backward flows between consecutive frames, and validity masks.

    Args:
        config: the clip parameters (``config.seed`` fixes everything).
        name: clip name; default ``"synthetic-<seed:07d>"``.

    Returns:
        The :class:`SyntheticClip`.

    Raises:
        TypeError: if ``config`` is not a :class:`SyntheticVideoConfig` or ``name`` not a ``str``.

    Example:
        >>> clip = render_synthetic_clip(SyntheticVideoConfig(height=24, width=24, frames=2))
        >>> clip.name, clip.frame_names, bool(clip.hr.min() >= 0 and clip.hr.max() <= 1)
        ('synthetic-0000000', ['frame_0000', 'frame_0001'], True)
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name: expected a str or None, got {type(name).__name__}")
    scene = make_scene(config)
    t_count, h, w = config.frames, config.height, config.width
    hr = torch.empty(t_count, 3, h, w)
    flows = torch.empty(t_count - 1, 2, h, w)
    masks = torch.empty(t_count - 1, 1, h, w, dtype=torch.bool)
    for t in range(t_count):
        state = _grid_state(scene, float(t))  # shared by the frame and the flow that ends on it
        hr[t] = _render(scene, float(t), state)
        if t > 0:
            flows[t - 1], masks[t - 1] = _flow(scene, float(t - 1), state)
    return SyntheticClip(
        name=name if name is not None else f"synthetic-{config.seed:07d}",
        hr=hr, flows=flows, masks=masks, frame_names=[f"frame_{t:04d}" for t in range(t_count)], scene=scene,
    )


class SyntheticVideoDataset(Dataset):
    """A map-style dataset of ``n_clips`` synthetic clips; clip ``i`` is rendered with seed ``seed + i``.

    Clips are rendered on access (a few milliseconds each), so the dataset holds no data. Items are
    :class:`SyntheticClip` objects, not tensors: iterate directly, or give a ``DataLoader`` a
    ``collate_fn`` (e.g. ``lambda clips: torch.stack([c.hr for c in clips])``).

    Training datasets must stay below :data:`HELDOUT_SEED_OFFSET`; use
    :func:`heldout_synthetic_dataset` for evaluation clips.

    Args:
        n_clips: number of clips (>= 1).
        config: clip parameters (its ``seed`` field is replaced per clip); default
            :class:`SyntheticVideoConfig()`.
        seed: seed of the first clip (>= 0).

    Raises:
        TypeError: if ``config`` is not a :class:`SyntheticVideoConfig` or ``n_clips``/``seed`` not ints.
        ValueError: if ``n_clips < 1``, ``seed < 0``, or the seed range straddles
            :data:`HELDOUT_SEED_OFFSET`.

    Example:
        >>> ds = SyntheticVideoDataset(4, SyntheticVideoConfig(height=16, width=16, frames=3), seed=10)
        >>> len(ds), ds[1].name, tuple(ds[1].hr.shape)
        (4, 'synthetic-0000011', (3, 3, 16, 16))
    """

    def __init__(self, n_clips: int, config: SyntheticVideoConfig | None = None, seed: int = 0) -> None:
        if not _is_int(n_clips):
            raise TypeError(f"n_clips: expected an int, got {type(n_clips).__name__}")
        if n_clips < 1:
            raise ValueError(f"n_clips: expected an int >= 1, got {n_clips}")
        if not _is_int(seed):
            raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
        if seed < 0:
            raise ValueError(f"seed: expected an int >= 0, got {seed}")
        if config is None:
            config = SyntheticVideoConfig()
        if not isinstance(config, SyntheticVideoConfig):
            raise TypeError(f"config: expected a SyntheticVideoConfig or None, got {type(config).__name__}")
        if seed < HELDOUT_SEED_OFFSET < seed + n_clips:
            raise ValueError(
                f"seed: clips use seeds [{seed}, {seed + n_clips}), which straddles the held-out range starting at "
                f"HELDOUT_SEED_OFFSET={HELDOUT_SEED_OFFSET}; use fewer clips or heldout_synthetic_dataset()"
            )
        self.n_clips = n_clips
        self.config = config
        self.seed = seed

    def __len__(self) -> int:
        """Number of clips."""
        return self.n_clips

    def clip_seed(self, index: int) -> int:
        """Seed of clip ``index``.

        Args:
            index: clip index in ``[0, len)``.

        Returns:
            ``seed + index``.

        Raises:
            TypeError: if ``index`` is not an int.
            IndexError: if ``index`` is out of range.
        """
        if not _is_int(index):
            raise TypeError(f"index: expected an int, got {type(index).__name__}")
        if not 0 <= index < self.n_clips:
            raise IndexError(f"index: expected 0 <= index < {self.n_clips}, got {index}")
        return self.seed + index

    def __getitem__(self, index: int) -> SyntheticClip:
        """Render clip ``index``.

        Args:
            index: clip index in ``[0, len)``.

        Returns:
            The clip, named ``"synthetic-<seed:07d>"``.
        """
        return render_synthetic_clip(replace(self.config, seed=self.clip_seed(index)))


def heldout_synthetic_dataset(
    n_clips: int, config: SyntheticVideoConfig | None = None, seed: int = 0
) -> SyntheticVideoDataset:
    """Evaluation clips from the reserved seed range (disjoint from any training dataset).

    Args:
        n_clips: number of clips (>= 1).
        config: clip parameters; default :class:`SyntheticVideoConfig()`.
        seed: offset within the held-out range (>= 0); clip ``i`` uses seed
            ``HELDOUT_SEED_OFFSET + seed + i``.

    Returns:
        A :class:`SyntheticVideoDataset`.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if ``n_clips < 1`` or ``seed < 0``.

    Example:
        >>> heldout_synthetic_dataset(2, SyntheticVideoConfig(height=8, width=8, frames=2))[0].name
        'synthetic-1000000'
    """
    if not _is_int(seed):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed: expected an int >= 0, got {seed}")
    return SyntheticVideoDataset(n_clips, config, seed=HELDOUT_SEED_OFFSET + seed)


def open_synthetic(
    root: object = None,
    split: str = "train",
    *,
    n_clips: int = 8,
    config: SyntheticVideoConfig | None = None,
    size: tuple[int, int] | None = None,
    frames: int | None = None,
    seed: int = 0,
    max_frames: int | None = None,
) -> SyntheticVideoDataset:
    """The reader of the ``synthetic`` layout (``open_dataset("synthetic", None, split, ...)``).

    Args:
        root: ignored: the clips are rendered, no file is read (accepted so that every layout opens
            with ``(root, split)``).
        split: ``"train"`` (clip ``i`` uses seed ``seed + i``) or ``"test"`` (the held-out seed range,
            :func:`heldout_synthetic_dataset`).
        n_clips: number of clips (>= 1).
        config: clip parameters; default :class:`SyntheticVideoConfig()`.
        size: ``(height, width)`` replacing the config's.
        frames: frames per clip replacing the config's.
        seed: seed of the first clip (``"test"``: offset in the held-out range).
        max_frames: at most this many frames per clip.

    Returns:
        The :class:`SyntheticVideoDataset`.

    Raises:
        ValueError: if ``split`` is not ``"train"``/``"test"`` or an option is out of range.
        TypeError: if an option has the wrong type.

    Example:
        >>> open_synthetic(None, "test", n_clips=2, size=(8, 8), frames=3)[0].name
        'synthetic-1000000'
    """
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test' for layout 'synthetic', got {split!r}")
    cfg = config if config is not None else SyntheticVideoConfig()
    if size is not None:
        cfg = replace(cfg, height=size[0], width=size[1])
    n = cfg.frames if frames is None else frames
    if max_frames is not None:
        n = min(n, max_frames)
    if n != cfg.frames:
        cfg = replace(cfg, frames=n)
    if split == "test":
        return heldout_synthetic_dataset(n_clips, cfg, seed=seed)
    return SyntheticVideoDataset(n_clips, cfg, seed=seed)
