"""Named MBnet presets, ablation variants and baselines, each rebuilt from a JSON-able config.

Every builder returns a ready :class:`~stvsr_blocks.loop.InteractionLoop` (or, for the VFI→VSR
cascade, a :class:`CascadeVFIThenVSR`) carrying its :class:`MBnetConfig` as ``model.config``;
:func:`build_model` rebuilds it from that config and :func:`save_pretrained` /
:func:`load_pretrained` store weights as safetensors beside a ``config.json``.

| preset | NET_flow | NET_re | NET_SR | NET_FI | total |
|---|---|---|---|---|---|
| ``mbnet_baseline`` | OFR C=320 | PAC | RDN D8C8 | GridNet 32/64/96 | ≈14.50M |
| ``mbnet_paper`` | OFR C=480 | PAC | RDN D16C8 | GridNet 56/112/168 | ≈30.84M |
| ``mbnet_tiny`` | OFR C=16 | PAC w8 | RDN D2C2 G0=16 | GridNet 8/16/24 | tests, demo |
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from stvsr_blocks._check import check_interpolation_options, check_pair_call
from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
from stvsr_blocks.flow.ofr import OFRConfig, OFRFlowNet
from stvsr_blocks.flow.refiner import PACFlowRefiner, PACRefinerConfig
from stvsr_blocks.interfaces import FlowEstimator, FlowRefiner, MidFlows, VFIInput, VFINet, VSRInput, VSRNet
from stvsr_blocks.loop import InteractionLoop, IterationOutput, LoopOutput, _mid_flows
from stvsr_blocks.ops.flow import resize_flow
from stvsr_blocks.ops.padding import crop_padding, pad_to_multiple
from stvsr_blocks.ops.warp import backward_warp
from stvsr_blocks.vfi.gridnet import GridNetVFI, GridNetVFIConfig
from stvsr_blocks.vfi.unet import UNetVFI, UNetVFIConfig
from stvsr_blocks.vsr.mbnet_vsr import RDNVSRConfig, RDNVSRNet

__all__ = [
    "MBnetConfig",
    "VARIANTS",
    "CascadeVFIThenVSR",
    "build_model",
    "mbnet_baseline",
    "mbnet_paper",
    "mbnet_tiny",
    "mbnet_variant",
    "variant_config",
    "BLOCKS",
    "register_block",
    "bicubic_blend",
    "bicubic_flow",
    "count_parameters",
    "save_pretrained",
    "load_pretrained",
]

#: Block kinds are names in :data:`BLOCKS` (built-ins below; :func:`register_block` adds more).
FlowKind = str
VSRKind = str
VFIKind = str
FeatureKind = Literal["vsr", "none", "timm"]
CascadeKind = Literal["none", "vsr_vfi", "vfi_vsr"]


@dataclass
class MBnetConfig:
    """Everything needed to rebuild a model; JSON round-trips through :meth:`to_dict`/:meth:`from_dict`.

    Attributes:
        flow: OFR options (used when ``flow_kind == "ofr"``).
        refiner: PAC refiner options, or ``None`` for bilinear flow upsampling.
        vsr: RDN VSR options (used when ``vsr_kind == "rdn"``).
        vfi: GridNet options (used when ``vfi_kind == "gridnet"``).
        unet: U-Net VFI options (used when ``vfi_kind == "unet"``).
        flow_kind: ``"ofr"``, ``"zero"`` (no motion), ``"classical"`` (parameter-free estimator) or a kind
            added with :func:`register_block` (:data:`BLOCKS`).
        vsr_kind: ``"rdn"``, ``"bicubic"`` or a registered kind.
        vfi_kind: ``"gridnet"``, ``"unet"``, ``"blend"`` or a registered kind.
        iterations: VSR/VFI passes (paper 2).
        feedback: feed the VFI result back to the VSR net.
        feature: ``"vsr"``, ``"none"`` or ``"timm"`` (external backbone feature).
        timm_model: backbone for ``feature == "timm"``.
        t: intermediate time.
        interpolation: ``"quadratic"`` or ``"linear"`` mid-flow approximation.
        quadratic_coefficients: ``"slomo"`` (every preset: consistent for any ``t``) or ``"paper"``
            (Eq. 2-3 literally, A15); identical at ``t = 0.5``.
        feedback_init: iteration-1 feedback slot: ``"bilinear"`` or ``"zeros"`` (A4).
        cascade: ``"none"`` (interaction loop), ``"vsr_vfi"`` (Fig. 1d) or ``"vfi_vsr"`` (Fig. 1c).
        name: a label for reports.
    """

    flow: OFRConfig = field(default_factory=OFRConfig)
    refiner: PACRefinerConfig | None = field(default_factory=PACRefinerConfig)
    vsr: RDNVSRConfig = field(default_factory=RDNVSRConfig)
    vfi: GridNetVFIConfig = field(default_factory=GridNetVFIConfig)
    unet: UNetVFIConfig = field(default_factory=UNetVFIConfig)
    flow_kind: FlowKind = "ofr"
    vsr_kind: VSRKind = "rdn"
    vfi_kind: VFIKind = "gridnet"
    iterations: int = 2
    feedback: bool = True
    feature: FeatureKind = "vsr"
    timm_model: str = "resnet18"
    t: float = 0.5
    interpolation: Literal["quadratic", "linear"] = "quadratic"
    quadratic_coefficients: Literal["slomo", "paper"] = "slomo"
    feedback_init: Literal["bilinear", "zeros"] = "bilinear"
    cascade: CascadeKind = "none"
    name: str = "mbnet"

    def __post_init__(self) -> None:
        for key, role in (("flow_kind", "flow"), ("vsr_kind", "vsr"), ("vfi_kind", "vfi")):
            _block_builder(role, getattr(self, key), key)
        choices = {
            "feature": ("vsr", "none", "timm"),
            "cascade": ("none", "vsr_vfi", "vfi_vsr"), "interpolation": ("quadratic", "linear"),
            "quadratic_coefficients": ("slomo", "paper"), "feedback_init": ("bilinear", "zeros"),
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"{key}: expected one of {allowed}, got {getattr(self, key)!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (nested block configs as dicts).

        Returns:
            The config as plain Python data.
        """
        d = asdict(self)
        for k, v in list(d.items()):
            if isinstance(v, tuple):
                d[k] = list(v)
        return json.loads(json.dumps(d))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MBnetConfig:
        """Rebuild from :meth:`to_dict` output (unknown keys are rejected).

        Args:
            data: the dict.

        Returns:
            The config.

        Raises:
            TypeError: if ``data`` or a block section is not a mapping (``refiner`` may be ``None``).
            ValueError: on unknown keys (named with their section, e.g. ``vsr.depth``) or invalid values.
        """
        if not isinstance(data, dict):
            raise TypeError(f"MBnetConfig: expected a mapping of config keys, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"MBnetConfig: unknown keys {sorted(unknown)}; known keys: {sorted(known)}")
        kw = dict(data)
        sub = {"flow": OFRConfig, "refiner": PACRefinerConfig, "vsr": RDNVSRConfig, "vfi": GridNetVFIConfig,
               "unet": UNetVFIConfig}
        for key, typ in sub.items():
            if key not in kw or (key == "refiner" and kw[key] is None):
                continue
            if not isinstance(kw[key], dict):
                want = "a mapping or null" if key == "refiner" else "a mapping"
                raise TypeError(f"MBnetConfig.{key}: expected {want} of {typ.__name__} fields, "
                                f"got {type(kw[key]).__name__} {kw[key]!r}")
            sub_known = {f.name for f in fields(typ)}
            sub_unknown = set(kw[key]) - sub_known
            if sub_unknown:
                raise ValueError(f"MBnetConfig.{key}: unknown keys {sorted(f'{key}.{k}' for k in sub_unknown)}; "
                                 f"known keys: {sorted(sub_known)}")
            vals = {k: tuple(v) if isinstance(v, list) else v for k, v in kw[key].items()}
            kw[key] = typ(**vals)
        return cls(**kw)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters.

    Args:
        model: the module.
        trainable_only: count only parameters with ``requires_grad``.

    Returns:
        The count.

    Example:
        >>> count_parameters(nn.Linear(3, 2))
        8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _classical_flow(cfg: MBnetConfig) -> FlowEstimator:
    from stvsr_blocks.flow.classical import ClassicalFlowEstimator

    return ClassicalFlowEstimator()


#: Block builders by role (``"flow"``, ``"vsr"``, ``"vfi"``) and kind (``MBnetConfig.flow_kind`` …):
#: ``flow`` and ``vsr`` builders take the :class:`MBnetConfig`, ``vfi`` builders the config and the
#: number of context-feature channels the loop will pass (0: none).
BLOCKS: dict[str, dict[str, Any]] = {
    "flow": {
        "ofr": lambda cfg: OFRFlowNet(cfg.flow),
        "zero": lambda cfg: ZeroFlowEstimator(),
        "classical": _classical_flow,
    },
    "vsr": {
        "rdn": lambda cfg: RDNVSRNet(cfg.vsr),
        "bicubic": lambda cfg: BicubicVSR(cfg.vsr.scale),
    },
    "vfi": {
        "gridnet": lambda cfg, fc: GridNetVFI(replace(cfg.vfi, feature_channels=fc)),
        "unet": lambda cfg, fc: UNetVFI(replace(cfg.unet, feature_channels=fc)),
        "blend": lambda cfg, fc: LinearBlendVFI(cfg.vsr.scale),
    },
}


def register_block(role: str, kind: str, builder: Any, *, replace: bool = False) -> None:
    """Make a block buildable from a config: ``MBnetConfig(<role>_kind=kind)`` then calls ``builder``.

    This is the one place a new block is added to the config-driven models (presets, variants,
    ``stvsr train`` with ``model.overrides.<role>_kind``, :func:`load_pretrained` of a saved model —
    the registration must have run before such a model is loaded). Blocks passed directly to
    :class:`~stvsr_blocks.loop.InteractionLoop` or :func:`~stvsr_blocks.recipe.fit.fit` need no registration.

    Args:
        role: ``"flow"`` (:class:`~stvsr_blocks.interfaces.FlowEstimator`), ``"vsr"``
            (:class:`~stvsr_blocks.interfaces.VSRNet`) or ``"vfi"`` (:class:`~stvsr_blocks.interfaces.VFINet`).
        kind: the name used in the config.
        builder: ``builder(cfg)`` (flow, vsr) or ``builder(cfg, feature_channels)`` (vfi) returning the block.
        replace: allow replacing an existing kind.

    Raises:
        ValueError: on an unknown role, or an existing kind without ``replace``.
        TypeError: if ``builder`` is not callable.

    Example:
        >>> from stvsr_blocks.baselines import BicubicVSR
        >>> register_block("vsr", "bilinear", lambda cfg: BicubicVSR(cfg.vsr.scale, mode="bilinear"))
        >>> type(build_model(MBnetConfig(vsr_kind="bilinear", feature="none")).vsr).__name__
        'BicubicVSR'
        >>> del BLOCKS["vsr"]["bilinear"]
    """
    if role not in BLOCKS:
        raise ValueError(f"role: expected one of {sorted(BLOCKS)}, got {role!r}")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind: expected a non-empty string, got {kind!r}")
    if not callable(builder):
        raise TypeError(f"builder: expected a callable returning a {role} block, got {type(builder).__name__}")
    if kind in BLOCKS[role] and not replace:
        raise ValueError(f"kind: {role} block {kind!r} is already registered (pass replace=True to replace it)")
    BLOCKS[role][kind] = builder


def _block_builder(role: str, kind: str, key: str) -> Any:
    import difflib

    known = BLOCKS[role]
    if kind not in known:
        near = difflib.get_close_matches(str(kind), list(known), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"{key}: expected one of {tuple(known)} or a kind added with register_block, "
                         f"got {kind!r}{hint}")
    return known[kind]


def _flow(cfg: MBnetConfig) -> FlowEstimator:
    return _block_builder("flow", cfg.flow_kind, "flow_kind")(cfg)


def _vsr(cfg: MBnetConfig) -> VSRNet:
    return _block_builder("vsr", cfg.vsr_kind, "vsr_kind")(cfg)


def _vfi(cfg: MBnetConfig, feature_channels: int) -> VFINet:
    return _block_builder("vfi", cfg.vfi_kind, "vfi_kind")(cfg, feature_channels)


def build_model(config: MBnetConfig) -> nn.Module:
    """Build the model a config describes.

    Args:
        config: the config.

    Returns:
        An :class:`~stvsr_blocks.loop.InteractionLoop` (or :class:`CascadeVFIThenVSR`) with
        ``model.config`` set.

    Raises:
        ValueError: on an inconsistent combination (e.g. a VSR feature from the bicubic VSR).
    """
    cfg = config
    if cfg.cascade == "vfi_vsr":
        model: nn.Module = CascadeVFIThenVSR(flow=_flow(cfg), vsr=_vsr(cfg), vfi=_vfi(cfg, 0), t=cfg.t,
                                             interpolation=cfg.interpolation,
                                             quadratic_coefficients=cfg.quadratic_coefficients)
        model.config = cfg
        return model
    feature: Any
    feature_kind = "none" if cfg.cascade == "vsr_vfi" else cfg.feature
    vsr = _vsr(cfg)
    if feature_kind == "vsr":
        feature, fc = "vsr", int(vsr.feature_channels)
    elif feature_kind == "timm":
        from stvsr_blocks.features import TimmFeatureExtractor

        fc = cfg.vfi.feature_channels or 64
        feature = TimmFeatureExtractor(cfg.timm_model, out_channels=fc)
    else:
        feature, fc = None, 0
    if cfg.vfi_kind == "blend":
        fc = 0
        feature = None
    refiner: FlowRefiner | None = PACFlowRefiner(cfg.refiner) if cfg.refiner is not None else None
    iterations = 1 if cfg.cascade == "vsr_vfi" else cfg.iterations
    feedback = False if cfg.cascade == "vsr_vfi" else cfg.feedback
    model = InteractionLoop(
        flow=_flow(cfg), vsr=vsr, vfi=_vfi(cfg, fc), refiner=refiner, iterations=iterations, feedback=feedback,
        feature=feature, t=cfg.t, interpolation=cfg.interpolation,
        quadratic_coefficients=cfg.quadratic_coefficients, feedback_init=cfg.feedback_init,
    )
    model.config = cfg
    return model


def mbnet_baseline(**overrides: Any) -> nn.Module:
    """MBnet baseline (paper Sec. 4.1): OFR C=320, PAC refiner, RDN D8C8, GridNet 32/64/96 (≈14.50M).

    Args:
        **overrides: :class:`MBnetConfig` fields to replace.

    Returns:
        The model.
    """
    return build_model(replace(MBnetConfig(name="mbnet_baseline"), **overrides))


def mbnet_paper(**overrides: Any) -> nn.Module:
    """The ≈30.8M model of Table 3: OFR C=480, PAC refiner, RDN D16C8, GridNet 56/112/168 (≈30.84M).

    Args:
        **overrides: :class:`MBnetConfig` fields to replace.

    Returns:
        The model.
    """
    return build_model(replace(_paper_config(), **overrides))


def _paper_config() -> MBnetConfig:
    return MBnetConfig(
        flow=OFRConfig(channels=480), vsr=RDNVSRConfig(D=16, C=8), vfi=GridNetVFIConfig(widths=(56, 112, 168)),
        name="mbnet_paper",
    )


def _tiny_config() -> MBnetConfig:
    return MBnetConfig(
        flow=OFRConfig(channels=16, n_resb=1),
        refiner=PACRefinerConfig(channels=8, guide_channels=4),
        vsr=RDNVSRConfig(D=2, C=2, G0=16, G=16),
        vfi=GridNetVFIConfig(widths=(8, 16, 24), feature_channels=16),
        unet=UNetVFIConfig(widths=(8, 16, 24), feature_channels=16),
        name="mbnet_tiny",
    )


def mbnet_tiny(**overrides: Any) -> nn.Module:
    """A very small MBnet (same structure, narrow widths) for tests, CPU demos and ablations.

    Args:
        **overrides: :class:`MBnetConfig` fields to replace.

    Returns:
        The model.
    """
    return build_model(replace(_tiny_config(), **overrides))


#: Ablation variants: name -> (description, MBnetConfig overrides). Table 1/2 and Fig. 1 analogues.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "mbnet": ("interaction: feedback on, 2 iterations, VSR feature (Table 1 row 1)", {}),
    "no_interaction": ("VSR then VFI once, no feedback (Table 2 'w/o interaction')",
                       {"iterations": 1, "feedback": False}),
    "no_vfi_feedback": ("2 iterations, the VSR net's own warped frames fed back (Table 1 row 4)",
                        {"feedback": False}),
    "timm_feature": ("ResNet (timm) feature instead of the VSR feature (Table 1 row 2)", {"feature": "timm"}),
    "no_feature": ("no context feature for the VFI net (Table 1 row 3)", {"feature": "none"}),
    "zero_flow": ("zero flow instead of the OFR net", {"flow_kind": "zero"}),
    "no_refiner": ("bilinear flow upsampling instead of the PAC refiner", {"refiner": None}),
    "unet_vfi": ("3-level U-Net instead of GridNet (Table 1 row 8)", {"vfi_kind": "unet"}),
    "cascade_vsr_vfi": ("cascade VSR -> VFI without feature or feedback (Fig. 1d)", {"cascade": "vsr_vfi"}),
    "cascade_vfi_vsr": ("cascade LR VFI -> VSR of all three frames (Fig. 1c)", {"cascade": "vfi_vsr"}),
}


#: Base presets of :func:`variant_config`: name -> a function returning the preset's config.
_PRESETS: dict[str, Any] = {"tiny": _tiny_config, "baseline": lambda: MBnetConfig(name="mbnet_baseline"),
                            "paper": _paper_config}


def variant_config(variant: str, base: Literal["tiny", "baseline", "paper"] = "baseline",
                   **overrides: Any) -> MBnetConfig:
    """The config of an ablation variant (see :data:`VARIANTS`) of a preset, without building a model.

    Args:
        variant: a key of :data:`VARIANTS`.
        base: the preset to start from.
        **overrides: further :class:`MBnetConfig` fields.

    Returns:
        The config (``name`` is ``"<base>:<variant>"`` unless overridden).

    Raises:
        ValueError: on an unknown variant or base.

    Example:
        >>> variant_config("no_interaction", base="paper").vsr.D
        16
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {sorted(VARIANTS)}, got {variant!r}")
    if base not in _PRESETS:
        raise ValueError(f"base: expected one of {sorted(_PRESETS)}, got {base!r}")
    cfg = replace(_PRESETS[base](), name=f"{base}:{variant}", **VARIANTS[variant][1])
    return replace(cfg, **overrides)


def mbnet_variant(variant: str, base: Literal["tiny", "baseline", "paper"] = "baseline", **overrides: Any) -> nn.Module:
    """Build an ablation variant (see :data:`VARIANTS`) of a preset (:func:`variant_config`, built once).

    Args:
        variant: a key of :data:`VARIANTS`.
        base: the preset to start from.
        **overrides: further :class:`MBnetConfig` fields.

    Returns:
        The model.

    Raises:
        ValueError: on an unknown variant or base.

    Example:
        >>> m = mbnet_variant("no_interaction", base="tiny")
        >>> m.iterations, m.feedback
        (1, False)
    """
    return build_model(variant_config(variant, base, **overrides))


def bicubic_blend(scale: int = 4) -> nn.Module:
    """Baseline: bicubic upsampling of each LR frame, average of the two for the middle frame.

    Args:
        scale: spatial scale.

    Returns:
        The model (no parameters).
    """
    cfg = MBnetConfig(vsr=RDNVSRConfig(scale=scale), flow_kind="zero", vsr_kind="bicubic", vfi_kind="blend",
                      refiner=None, iterations=1, feedback=False, feature="none", name="bicubic-blend")
    return build_model(cfg)


def bicubic_flow(scale: int = 4) -> nn.Module:
    """Baseline: bicubic upsampling, middle frame = blend of both frames warped by classical flow.

    Args:
        scale: spatial scale.

    Returns:
        The model (no parameters).
    """
    cfg = MBnetConfig(vsr=RDNVSRConfig(scale=scale), flow_kind="classical", vsr_kind="bicubic", vfi_kind="blend",
                      refiner=None, iterations=1, feedback=False, feature="none", name="bicubic-flow")
    return build_model(cfg)


class CascadeVFIThenVSR(nn.Module):
    """Fig. 1(c) cascade: interpolate the LR middle frame first, then super-resolve all three frames.

    The VFI net runs at LR on the LR frames warped to time ``t`` (its ``scale`` must then divide
    the LR size); the VSR net super-resolves the pairs ``(LR_0, LR_t)`` and ``(LR_t, LR_1)``, and
    ``SR_t`` is the average of its two results. Returns a :class:`~stvsr_blocks.loop.LoopOutput`
    so the same losses apply.

    Args:
        flow: LR flow estimator.
        vsr: VSR net.
        vfi: VFI net used at LR (feature-free).
        t: intermediate time in ``(0, 1)``.
        interpolation: ``"quadratic"`` or ``"linear"``.
        quadratic_coefficients: ``"slomo"`` or ``"paper"`` (see :class:`~stvsr_blocks.loop.InteractionLoop`).

    Attributes:
        check_inputs: validate the inputs of :meth:`forward` as
            :attr:`InteractionLoop.check_inputs <stvsr_blocks.loop.InteractionLoop.check_inputs>` does.

    Raises:
        TypeError: if a block does not implement its interface.
        ValueError: on an invalid option.
    """

    check_inputs: bool = True

    def __init__(self, *, flow: FlowEstimator, vsr: VSRNet, vfi: VFINet, t: float = 0.5,
                 interpolation: Literal["quadratic", "linear"] = "quadratic",
                 quadratic_coefficients: Literal["slomo", "paper"] = "slomo") -> None:
        super().__init__()
        for name, obj, cls in (("flow", flow, FlowEstimator), ("vsr", vsr, VSRNet), ("vfi", vfi, VFINet)):
            if not isinstance(obj, cls):
                raise TypeError(f"{name}: expected a {cls.__name__} (stvsr_blocks.interfaces), got {type(obj).__name__}")
        t = check_interpolation_options(t, interpolation, quadratic_coefficients)
        self.flow, self.vsr, self.vfi = flow, vsr, vfi
        self.t = t
        self.interpolation = interpolation
        self.quadratic_coefficients = quadratic_coefficients
        self.scale = int(vsr.scale)
        self.size_multiple = max(int(getattr(flow, "size_multiple", 1)), int(getattr(vfi, "size_multiple", 1)))

    def _vsr_pair(self, a: Tensor, b: Tensor, f_ab: Tensor, f_ba: Tensor) -> tuple[Tensor, Tensor]:
        up = lambda x: torch.nn.functional.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)  # noqa: E731
        from stvsr_blocks.interfaces import FlowPyramid

        pyr = FlowPyramid(f_ab, f_ba, ((f_ab, f_ba),))
        out = self.vsr(VSRInput(a, b, up(a), up(b), backward_warp(b, f_ba), backward_warp(a, f_ab), up(a), up(b), pyr, 1))
        return out.sr0, out.sr1

    def forward(self, lr0: Tensor, lr1: Tensor, *, t: float | Tensor | None = None) -> LoopOutput:
        """Run the cascade.

        Args:
            lr0: ``(B, 3, h, w)`` LR frame ``t-1``.
            lr1: ``(B, 3, h, w)`` LR frame ``t+1``.
            t: time of the middle frame (``None``: ``self.t``), or a ``(B,)`` tensor.

        Returns:
            A :class:`~stvsr_blocks.loop.LoopOutput` with one iteration record.

        Raises:
            TypeError: if an input is not a floating tensor, or its dtype is not the model's (outside
                :func:`torch.autocast`).
            ValueError: as :meth:`InteractionLoop.forward <stvsr_blocks.loop.InteractionLoop.forward>`:
                wrong or differing shapes, an empty batch, another device, NaN/Inf or values far outside
                ``[0, 1]``, or ``t`` outside ``[0, 1]``.
        """
        t = check_pair_call(self, lr0, lr1, t)
        h, w = lr0.shape[-2:]
        pair, pad = pad_to_multiple(torch.stack((lr0, lr1), 1), self.size_multiple)
        a, b = pair.unbind(1)
        flows = self.flow(a, b)
        mid = _mid_flows(flows, t, self.interpolation, self.quadratic_coefficients)
        wa, wb = backward_warp(a, mid.flow_0tot), backward_warp(b, mid.flow_1tot)
        lr_mid = self.vfi(VFIInput(wa, wb, a, b, mid, None, t))
        # flows between the endpoint and the middle frame, first order: to/from time t
        sr0, sr_mid_a = self._vsr_pair(a, lr_mid, mid.flow_0tot, -mid.flow_0tot)
        sr_mid_b, sr1 = self._vsr_pair(lr_mid, b, -mid.flow_1tot, mid.flow_1tot)
        sr_mid = 0.5 * (sr_mid_a + sr_mid_b)
        s = self.scale
        mid_hr = MidFlows(resize_flow(mid.flow_0tot, scale=s), resize_flow(mid.flow_1tot, scale=s))

        def c(x: Tensor) -> Tensor:
            return crop_padding(x, pad, scale=s) if any(pad) else x

        def cl(x: Tensor) -> Tensor:
            return crop_padding(x, pad) if any(pad) else x

        mid_hr = MidFlows(c(mid_hr.flow_0tot), c(mid_hr.flow_1tot))
        rec = IterationOutput(c(sr0), c(sr1), c(sr_mid), None, mid_hr, c(backward_warp(sr0, resize_flow(mid.flow_0tot, scale=s))),
                              c(backward_warp(sr1, resize_flow(mid.flow_1tot, scale=s))), c(sr0), c(sr1))
        flows_c = InteractionLoop._crop_pyramid(flows, h, w) if any(pad) else flows
        return LoopOutput((rec.sr0, rec.sr_mid, rec.sr1), flows_c, MidFlows(cl(mid.flow_0tot), cl(mid.flow_1tot)),
                          mid_hr, (rec,))

    def forward_clip(self, lr_clip: Tensor, *, overlap: Literal["first", "average"] = "first") -> Tensor:
        """Clip processing with the same window rule as :meth:`InteractionLoop.forward_clip`.

        Args:
            lr_clip: ``(B, N, 3, h, w)``.
            overlap: ``"first"`` or ``"average"``.

        Returns:
            ``(B, 2N-1, 3, s*h, s*w)``.
        """
        return InteractionLoop.forward_clip(self, lr_clip, overlap=overlap)  # type: ignore[arg-type]


def save_pretrained(model: nn.Module, directory: str | os.PathLike, *, extra: dict[str, Any] | None = None) -> Path:
    """Save ``model.safetensors`` + ``config.json`` (written atomically) into ``directory``.

    Args:
        model: a model built by this module (has ``model.config``).
        directory: output folder (created).
        extra: additional JSON metadata stored under ``"extra"``.

    Returns:
        The directory path.

    Raises:
        ValueError: if the model has no ``config``.
    """
    from safetensors.torch import save_file

    cfg = getattr(model, "config", None)
    if not isinstance(cfg, MBnetConfig):
        raise ValueError("model: has no MBnetConfig in model.config (build it with stvsr_blocks.models)")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = out / "model.safetensors.tmp"
    save_file(state, str(tmp))
    os.replace(tmp, out / "model.safetensors")
    meta = {"config": cfg.to_dict(), "format": "stvsr_blocks/1", **({"extra": extra} if extra else {})}
    tmpj = out / "config.json.tmp"
    tmpj.write_text(json.dumps(meta, indent=2))
    os.replace(tmpj, out / "config.json")
    return out


def load_pretrained(directory: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model from :func:`save_pretrained` output, or load a shipped model by name.

    Args:
        directory: the name of a shipped model (a key of
            :data:`stvsr_blocks.pretrained.PRETRAINED`, e.g. ``"mbnet-photo"``; its checksum is verified),
            or a folder with ``config.json`` and ``model.safetensors``.
        map_location: device for the weights.

    Returns:
        The model with its weights loaded (``model.source`` names where it came from).

    Raises:
        FileNotFoundError: if a file is missing.
        ValueError: if a shipped model's checksum does not match; if ``config.json`` is not JSON, has no
            ``'config'`` mapping, or describes no valid model (the message names the file and the key);
            or if ``model.safetensors`` is unreadable (truncated, corrupt) or does not fit the config
            (missing, unexpected or mis-shaped tensors are listed).
    """
    from safetensors.torch import load_file

    from stvsr_blocks.pretrained import PRETRAINED, pretrained_dir

    spec = os.fspath(directory)
    if spec in PRETRAINED and not Path(spec).exists():
        d = pretrained_dir(spec)
    else:
        d = Path(directory)
    for fname in ("config.json", "model.safetensors"):
        if not (d / fname).is_file():
            raise FileNotFoundError(f"directory: {d / fname} not found (expected save_pretrained output)")
    cfg_path, weights_path = d / "config.json", d / "model.safetensors"
    try:
        meta = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"directory: {cfg_path} is not valid JSON ({exc}); expected save_pretrained output") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ValueError(f"directory: {cfg_path} has no 'config' mapping (expected save_pretrained output)")
    try:
        model = build_model(MBnetConfig.from_dict(meta["config"]))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"directory: {cfg_path} holds an invalid model config under 'config': {exc}") from exc
    try:
        state = load_file(str(weights_path), device=str(map_location))
    except Exception as exc:  # safetensors raises its own SafetensorError (and OSError) on damaged files
        raise ValueError(f"directory: {weights_path} cannot be read ({type(exc).__name__}: {exc}); the file is "
                         "truncated or corrupt") from exc
    _check_state_dict(model, state, weights_path)
    model.load_state_dict(state)
    model.source = spec
    return model


def _check_state_dict(model: nn.Module, state: dict[str, Tensor], path: Path) -> None:
    """Raise one ``ValueError`` listing what does not fit instead of ``load_state_dict``'s long text."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})"
                    for k in set(own) & set(state) if state[k].shape != own[k].shape)
    problems = []
    for what, items in (("missing tensors", missing), ("unexpected tensors", unexpected), ("wrong shapes", shapes)):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            problems.append(f"{len(items)} {what}: {', '.join(items[:3])}{more}")
    if problems:
        raise ValueError(f"directory: {path} does not fit the model its config.json describes: " + "; ".join(problems))
