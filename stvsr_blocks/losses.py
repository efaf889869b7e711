r"""MBnet training losses (paper Sec. 3.5, SPEC §6).

$$\mathcal{L} = \mathcal{L}^{SR} + \lambda_a \mathcal{L}^{flow} + \lambda_b \mathcal{L}^{FLOW}$$

- $\mathcal{L}^{SR}$ (Eq. 7): sum over the three output frames of the mean absolute error (or
  Charbonnier) against the HR ground truth.
- $\mathcal{L}^{flow}$ (Eq. 8, unsupervised): $\lambda_1 \mathcal{L}^{SR}_t + \lambda_2 \mathcal{L}^{LR}_t$
  with photometric + smoothness terms on the HR mid flows and on every LR pyramid level.
- $\mathcal{L}^{FLOW}$ (Eq. 10, supervised): L1 between the HR mid flows and a frozen teacher's
  (RAFT) flows on the ground-truth frames, computed so that teacher and student flows have the
  same meaning (A7).

``L1`` here is the mean absolute error. Defaults follow Sec. 4.1 except ``lambda_b``: the paper's
headline numbers (Table 3) equal Table 4's ``L^SR + 0.01 L^flow`` row, so the ``paper`` preset
trains without the teacher (``lambda_b = 0``) and the ``perceptual`` preset turns it on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stvsr_blocks._check import check_shape
from stvsr_blocks.interfaces import FlowPyramid, MidFlows
from stvsr_blocks.loop import LoopOutput
from stvsr_blocks.ops.flow import flow_smoothness
from stvsr_blocks.ops.warp import backward_warp

__all__ = [
    "LossConfig",
    "LossTerms",
    "MBnetLoss",
    "reconstruction_loss",
    "photometric_flow_loss",
    "hr_flow_loss",
    "lr_flow_loss",
    "supervised_flow_loss",
    "exact_flow_loss",
]


def _pixel_loss(pred: Tensor, target: Tensor, kind: str, eps: float) -> Tensor:
    if kind == "l1":
        return (pred - target).abs().mean()
    if kind == "charbonnier":
        return torch.sqrt((pred - target) ** 2 + eps * eps).mean()
    raise ValueError(f"kind: expected 'l1' or 'charbonnier', got {kind!r}")


def reconstruction_loss(
    frames: tuple[Tensor, ...] | list[Tensor] | Tensor,
    target: Tensor,
    *,
    kind: Literal["l1", "charbonnier"] = "l1",
    eps: float = 1e-3,
) -> Tensor:
    r"""Eq. 7: $\sum_f \|SR_f - HR_f\|_1$ over the output frames (mean absolute error per frame).

    Args:
        frames: the predicted frames, a sequence of ``(B, 3, H, W)`` or a ``(B, T, 3, H, W)`` tensor.
        target: ``(B, T, 3, H, W)`` ground truth in the same order.
        kind: ``"l1"`` or ``"charbonnier"`` ($\sqrt{d^2 + \epsilon^2}$).
        eps: Charbonnier $\epsilon$.

    Returns:
        Scalar loss (sum over frames of the per-frame mean).

    Raises:
        ValueError: if shapes disagree or ``kind`` is unknown.

    Example:
        >>> hr = torch.zeros(1, 3, 3, 4, 4)
        >>> reconstruction_loss([torch.ones(1, 3, 4, 4)] * 3, hr).item()
        3.0
    """
    pred = frames if isinstance(frames, Tensor) else torch.stack(tuple(frames), dim=1)
    check_shape(pred, ["B", "T", "C", "H", "W"], "frames")
    check_shape(target, ["B", "T", "C", "H", "W"], "target")
    if pred.shape != target.shape:
        raise ValueError(f"frames and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    return sum(_pixel_loss(pred[:, i], target[:, i], kind, eps) for i in range(pred.shape[1]))


def photometric_flow_loss(source: Tensor, target: Tensor, flow: Tensor, smoothness_weight: float = 0.1) -> Tensor:
    r"""$\ell(src, tgt, F) = \|\mathrm{warp}(src, F) - tgt\|_1 + w_s\, S(F)$ (SOF-VSR's OFR loss).

    Args:
        source: ``(B, C, H, W)`` frame to warp.
        target: ``(B, C, H, W)`` frame it should match.
        flow: ``(B, 2, H, W)`` flow warping ``source`` onto ``target``.
        smoothness_weight: weight $w_s$ of :func:`~stvsr_blocks.ops.flow_smoothness`.

    Returns:
        Scalar loss.

    Example:
        >>> x = torch.rand(1, 3, 8, 8)
        >>> round(photometric_flow_loss(x, x, torch.zeros(1, 2, 8, 8)).item(), 6)
        0.0
    """
    return (backward_warp(source, flow) - target).abs().mean() + smoothness_weight * flow_smoothness(flow)


def hr_flow_loss(frame0: Tensor, frame_mid: Tensor, frame1: Tensor, flows: MidFlows, smoothness_weight: float = 0.1) -> Tensor:
    r"""$\mathcal{L}^{SR}_t$: photometric loss of both HR mid flows (A6).

    $\ell(HR_{t-1}, HR_t, Flow_{t-1\to t}) + \ell(HR_{t+1}, HR_t, Flow_{t\leftarrow t+1})$

    Args:
        frame0: ``(B, 3, H, W)`` HR frame ``t-1`` (ground truth by default).
        frame_mid: ``(B, 3, H, W)`` HR frame ``t``.
        frame1: ``(B, 3, H, W)`` HR frame ``t+1``.
        flows: HR mid flows ``(B, 2, H, W)``.
        smoothness_weight: smoothness weight.

    Returns:
        Scalar loss.
    """
    return photometric_flow_loss(frame0, frame_mid, flows.flow_0tot, smoothness_weight) + photometric_flow_loss(
        frame1, frame_mid, flows.flow_1tot, smoothness_weight
    )


def lr_flow_loss(
    lr0: Tensor,
    lr1: Tensor,
    pyramid: FlowPyramid,
    level_weights: tuple[float, ...] = (0.1, 0.2, 1.0),
    smoothness_weight: float = 0.1,
) -> Tensor:
    r"""$\mathcal{L}^{LR}_t$: multi-scale photometric loss of the bidirectional LR pyramid.

    Level ``l`` (coarse to fine) is compared with both frames average-pooled to its resolution:
    $\sum_l w_l [\ell(P_l LR_0, P_l LR_1, f^l_{0\to1}) + \ell(P_l LR_1, P_l LR_0, f^l_{1\to0})]$.

    Args:
        lr0: ``(B, 3, h, w)`` LR frame 0.
        lr1: ``(B, 3, h, w)`` LR frame 1.
        pyramid: the flow estimator's output; the weights apply to its last ``len(levels)``
            entries of ``level_weights`` (a one-level estimator uses the last weight).
        level_weights: weights coarse to fine (SOF-VSR's 0.1, 0.2, 1.0; A13).
        smoothness_weight: smoothness weight.

    Returns:
        Scalar loss.

    Raises:
        ValueError: if the pyramid has more levels than weights or a level does not divide the
            frame size.
    """
    levels = pyramid.levels
    if len(levels) > len(level_weights):
        raise ValueError(f"level_weights: need {len(levels)} weights for {len(levels)} levels, got {len(level_weights)}")
    weights = level_weights[len(level_weights) - len(levels):]
    h, w = lr0.shape[-2:]
    total = lr0.new_zeros(())
    for wl, (f01, f10) in zip(weights, levels):
        lh, lw = f01.shape[-2:]
        if (lh, lw) == (h, w):
            a, b = lr0, lr1
        else:
            if h % lh or w % lw:
                raise ValueError(f"pyramid level {lh}x{lw} does not divide the frame size {h}x{w}")
            a = F.avg_pool2d(lr0, (h // lh, w // lw))
            b = F.avg_pool2d(lr1, (h // lh, w // lw))
        total = total + wl * (photometric_flow_loss(a, b, f01, smoothness_weight)
                              + photometric_flow_loss(b, a, f10, smoothness_weight))
    return total


def supervised_flow_loss(flows: MidFlows, teacher_flows: MidFlows) -> Tensor:
    r"""Eq. 10: $\|Flow_{t-1\to t} - HF_{t-1\to t}\|_1 + \|Flow_{t\leftarrow t+1} - HF_{t\leftarrow t+1}\|_1$.

    Args:
        flows: the student's HR mid flows.
        teacher_flows: the teacher's flows with the same meaning (see :class:`MBnetLoss`).

    Returns:
        Scalar loss (mean absolute error per flow, summed).

    Example:
        >>> z = torch.zeros(1, 2, 4, 4)
        >>> supervised_flow_loss(MidFlows(z + 1, z), MidFlows(z, z)).item()
        1.0
    """
    return (flows.flow_0tot - teacher_flows.flow_0tot).abs().mean() + (
        flows.flow_1tot - teacher_flows.flow_1tot
    ).abs().mean()


def exact_flow_loss(flows: MidFlows, target: Tensor, mask: Tensor) -> Tensor:
    r"""Eq. 10 with exact flows as the target: masked L1 where the data's flow is valid.

    Args:
        flows: the student's HR mid flows, each ``(B, 2, H, W)``.
        target: ``(B, 2, 2, H, W)`` exact ``flow_{0->t}``, ``flow_{1->t}`` (e.g. ``TrainSample.flows``).
        mask: ``(B, 2, 1, H, W)`` bool validity (occluded or out-of-frame pixels are ``False``).

    Returns:
        Scalar loss: per flow, the mean absolute error over valid pixels, summed over the two flows.

    Example:
        >>> z = torch.zeros(1, 2, 4, 4)
        >>> m = torch.ones(1, 2, 1, 4, 4, dtype=torch.bool)
        >>> exact_flow_loss(MidFlows(z + 1, z), torch.zeros(1, 2, 2, 4, 4), m).item()
        1.0
    """
    total = flows.flow_0tot.new_zeros(())
    for k, f in enumerate((flows.flow_0tot, flows.flow_1tot)):
        m = mask[:, k].to(f.dtype).expand_as(f)
        total = total + ((f - target[:, k]).abs() * m).sum() / m.sum().clamp_min(1.0)
    return total


@dataclass
class LossConfig:
    """Loss weights and options (paper Eq. 7-11, Sec. 4.1).

    Attributes:
        lambda_1: weight of the HR mid-flow loss inside ``L^flow`` (paper 1.0).
        lambda_2: weight of the LR pyramid loss inside ``L^flow`` (paper 0.5).
        lambda_a: weight of ``L^flow`` in the total (paper 0.01).
        lambda_b: weight of the supervised teacher loss ``L^FLOW`` (paper preset 0: Table 3 matches
            Table 4's second row; the ``perceptual`` preset uses 0.01).
        smoothness_weight: weight of the flow smoothness term (0.1; A14).
        level_weights: LR pyramid level weights, coarse to fine (A13).
        reconstruction: ``"l1"`` (paper) or ``"charbonnier"``.
        charbonnier_eps: Charbonnier epsilon.
        hr_flow_frames: frames for ``L^SR_t``: ``"gt"`` ground-truth HR frames (A6, default) or
            ``"sr"`` the network's own outputs.
        intermediate_weight: weight of the reconstruction loss on earlier iterations' outputs
            (A5: 0, only final outputs are supervised).
        temporal_terms: ``T`` in Eq. 8 (one interpolated frame per window).
        flow_target: target of ``L^FLOW``: ``"auto"`` (the data's exact flows where a sample carries them —
            the synthetic and photo renderers — the teacher elsewhere; without a teacher, samples without
            exact flows add nothing), ``"teacher"`` (always the teacher) or ``"exact"`` (only exact flows).
    """

    lambda_1: float = 1.0
    lambda_2: float = 0.5
    lambda_a: float = 0.01
    lambda_b: float = 0.0
    smoothness_weight: float = 0.1
    level_weights: tuple[float, ...] = field(default=(0.1, 0.2, 1.0))
    reconstruction: Literal["l1", "charbonnier"] = "l1"
    charbonnier_eps: float = 1e-3
    hr_flow_frames: Literal["gt", "sr"] = "gt"
    intermediate_weight: float = 0.0
    temporal_terms: int = 1
    flow_target: Literal["auto", "teacher", "exact"] = "auto"

    def __post_init__(self) -> None:
        for name in ("lambda_1", "lambda_2", "lambda_a", "lambda_b", "smoothness_weight", "intermediate_weight"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name}: expected a non-negative number, got {v!r}")
        if self.reconstruction not in ("l1", "charbonnier"):
            raise ValueError(f"reconstruction: expected 'l1' or 'charbonnier', got {self.reconstruction!r}")
        if self.hr_flow_frames not in ("gt", "sr"):
            raise ValueError(f"hr_flow_frames: expected 'gt' or 'sr', got {self.hr_flow_frames!r}")
        if self.flow_target not in ("auto", "teacher", "exact"):
            raise ValueError(f"flow_target: expected 'auto', 'teacher' or 'exact', got {self.flow_target!r}")
        if not isinstance(self.temporal_terms, int) or self.temporal_terms < 1:
            raise ValueError(f"temporal_terms: expected a positive int, got {self.temporal_terms!r}")
        self.level_weights = tuple(float(w) for w in self.level_weights)

    @classmethod
    def paper(cls) -> LossConfig:
        """The paper preset: λ1 = 1, λ2 = 0.5, λa = 0.01, λb = 0 (Table 3 = Table 4 row 2).

        Returns:
            The config.
        """
        return cls()

    @classmethod
    def perceptual(cls) -> LossConfig:
        """The "perceptual" preset: the paper preset with the RAFT teacher on (λb = 0.01).

        Returns:
            The config.
        """
        return cls(lambda_b=0.01)

    def to_dict(self) -> dict:
        """JSON-able dict of the config.

        Returns:
            The fields as a dict.
        """
        d = asdict(self)
        d["level_weights"] = list(self.level_weights)
        return d


@dataclass
class LossTerms:
    """The total loss and each named term (unweighted terms; ``total`` applies the weights).

    Attributes:
        total: the scalar to backpropagate.
        reconstruction: ``L^SR`` (Eq. 7) of the final outputs.
        flow_hr: ``L^SR_t`` (HR mid-flow photometric term).
        flow_lr: ``L^LR_t`` (LR pyramid photometric term).
        flow_unsupervised: ``L^flow`` (Eq. 8).
        flow_supervised: ``L^FLOW`` (Eq. 10), zero when ``lambda_b == 0``.
        intermediate: reconstruction loss of earlier iterations (zero when unused).
    """

    total: Tensor
    reconstruction: Tensor
    flow_hr: Tensor
    flow_lr: Tensor
    flow_unsupervised: Tensor
    flow_supervised: Tensor
    intermediate: Tensor

    def as_dict(self) -> dict[str, float]:
        """Detached float values for logging.

        Returns:
            ``{name: value}`` for every term.
        """
        return {k: float(getattr(self, k).detach()) for k in self.__dataclass_fields__}


class MBnetLoss(nn.Module):
    """The total MBnet loss (Eq. 11) computed from a :class:`~stvsr_blocks.loop.LoopOutput`.

    Args:
        config: weights and options; default :meth:`LossConfig.paper`.
        teacher: frozen flow teacher with the library's flow meaning
            (``teacher(frame_a, frame_b)`` returns ``flow_{a->b}``, e.g.
            :class:`~stvsr_blocks.flow.raft.RAFTTeacher`); required when ``lambda_b > 0``.
            ``HF_{t-1->t} = teacher(HR_{t-1}, HR_t)`` and ``HF_{t<-t+1} = teacher(HR_{t+1}, HR_t)``:
            Eq. 9's literal order would give flows of the opposite meaning (A7).

    Raises:
        ValueError: if ``lambda_b > 0`` and no teacher is given.

    Example:
        >>> from stvsr_blocks.baselines import BicubicVSR, LinearBlendVFI, ZeroFlowEstimator
        >>> from stvsr_blocks.loop import InteractionLoop
        >>> loop = InteractionLoop(flow=ZeroFlowEstimator(), vsr=BicubicVSR(), vfi=LinearBlendVFI(), feature=None)
        >>> lr = torch.rand(1, 2, 3, 8, 8); hr = torch.rand(1, 3, 3, 32, 32)
        >>> terms = MBnetLoss()(loop(lr[:, 0], lr[:, 1]), hr, lr)
        >>> sorted(terms.as_dict())[:3]
        ['flow_hr', 'flow_lr', 'flow_supervised']
    """

    def __init__(self, config: LossConfig | None = None, teacher: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config or LossConfig.paper()
        if self.config.lambda_b > 0 and teacher is None and self.config.flow_target == "teacher":
            raise ValueError("teacher: lambda_b > 0 with flow_target='teacher' needs a flow teacher "
                             "(e.g. stvsr_blocks.flow.raft.RAFTTeacher); flow_target='auto' or 'exact' uses the "
                             "data's exact flows instead")
        self.teacher = teacher

    def forward(self, output: LoopOutput, hr: Tensor, lr: Tensor, *, flows: Tensor | None = None,
                flow_mask: Tensor | None = None) -> LossTerms:
        """Compute every term and the weighted total.

        Args:
            output: the loop's output for the LR pair.
            hr: ``(B, 3, 3, sH, sW)`` ground truth ``HR_{t-1}, HR_t, HR_{t+1}``.
            lr: ``(B, 2, 3, h, w)`` the LR inputs ``LR_{t-1}, LR_{t+1}``.
            flows: ``(B, 2, 2, sH, sW)`` exact HR mid flows of the data (``TrainSample.flows``), or ``None``.
            flow_mask: ``(B, 2, 1, sH, sW)`` their validity; a sample whose mask is all ``False`` has no
                exact flow.

        Returns:
            The :class:`LossTerms`.

        Raises:
            ValueError: on shape mismatches, or ``lambda_b > 0`` with neither a teacher nor exact flows.
        """
        c = self.config
        check_shape(hr, ["B", 3, 3, "H", "W"], "hr")
        check_shape(lr, ["B", 2, 3, "h", "w"], "lr")
        if hr.shape[-2:] != output.frames[0].shape[-2:]:
            raise ValueError(f"hr: spatial size {tuple(hr.shape[-2:])} does not match the outputs {tuple(output.frames[0].shape[-2:])}")
        if lr.shape[-2:] != output.flows_lr.flow_0to1.shape[-2:]:
            raise ValueError(f"lr: spatial size {tuple(lr.shape[-2:])} does not match the LR flows {tuple(output.flows_lr.flow_0to1.shape[-2:])}")
        rec = reconstruction_loss(output.frames, hr, kind=c.reconstruction, eps=c.charbonnier_eps)
        zero = rec.new_zeros(())
        inter = zero
        if c.intermediate_weight > 0 and len(output.iterations) > 1:
            inter = sum(
                reconstruction_loss((r.sr0, r.sr_mid, r.sr1), hr, kind=c.reconstruction, eps=c.charbonnier_eps)
                for r in output.iterations[:-1]
            )
        if c.hr_flow_frames == "gt":
            f0, fm, f1 = hr[:, 0], hr[:, 1], hr[:, 2]
        else:
            f0, fm, f1 = output.frames
        flow_hr = hr_flow_loss(f0, fm, f1, output.mid_flows_hr, c.smoothness_weight)
        flow_lr = lr_flow_loss(lr[:, 0], lr[:, 1], output.flows_lr, c.level_weights, c.smoothness_weight)
        flow_unsup = (c.lambda_1 * flow_hr + c.lambda_2 * flow_lr) / c.temporal_terms
        flow_sup = zero
        if c.lambda_b > 0:
            flow_sup = self._supervised(output.mid_flows_hr, hr, flows, flow_mask)
        total = rec + c.intermediate_weight * inter + c.lambda_a * flow_unsup + c.lambda_b * flow_sup
        return LossTerms(total, rec, flow_hr, flow_lr, flow_unsup, flow_sup, inter)

    def _supervised(self, mid: MidFlows, hr: Tensor, flows: Tensor | None, mask: Tensor | None) -> Tensor:
        target = self.config.flow_target
        has_exact = torch.zeros(hr.shape[0], dtype=torch.bool, device=hr.device)
        if flows is not None and mask is not None and target != "teacher":
            check_shape(flows, ["B", 2, 2, "H", "W"], "flows")
            if flows.shape[-2:] != hr.shape[-2:] or mask.shape[-2:] != hr.shape[-2:]:
                raise ValueError(f"flows, flow_mask: expected spatial size {tuple(hr.shape[-2:])}, got "
                                 f"{tuple(flows.shape[-2:])} and {tuple(mask.shape[-2:])}")
            has_exact = mask.flatten(1).any(1)
        if bool(has_exact.all()):
            return exact_flow_loss(mid, flows, mask)  # type: ignore[arg-type]
        if self.teacher is None:
            if flows is None and target != "exact":
                raise ValueError("lambda_b > 0: no exact flows were passed (flows=, flow_mask=) and no teacher was "
                                 "given (pass teacher=RAFTTeacher(...) or train on data with exact flows)")
            # samples without exact flow (e.g. real footage mixed with rendered clips) add nothing
            return exact_flow_loss(mid, flows, mask) if flows is not None else hr.new_zeros(())  # type: ignore[arg-type]
        with torch.no_grad():
            teacher = MidFlows(self.teacher(hr[:, 0], hr[:, 1]), self.teacher(hr[:, 2], hr[:, 1]))
        if not bool(has_exact.any()):
            return supervised_flow_loss(mid, teacher)
        # mixed batch: exact flows where present, the teacher's elsewhere
        full = torch.stack((teacher.flow_0tot, teacher.flow_1tot), 1)
        sel = has_exact[:, None, None, None, None]
        tgt = torch.where(sel, flows, full)  # type: ignore[arg-type]
        m = torch.where(sel, mask, torch.ones_like(mask))  # type: ignore[arg-type]
        return exact_flow_loss(mid, tgt, m)
