from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stvsr_blocks.flow.raft import RAFTTeacher, raft_default_weights_path
from stvsr_blocks.ops.warp import backward_warp
from stvsr_blocks.testing import assert_cpu_gpu_parity

SMALL_PARAMS = 990_162
LARGE_PARAMS = 5_257_536


def _random_teacher(**kw: object) -> RAFTTeacher:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return RAFTTeacher("small", weights=None, num_flow_updates=2, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def teacher() -> RAFTTeacher:
    return _random_teacher()


def _texture(size: tuple[int, int] = (40, 44), seed: int = 0) -> torch.Tensor:
    """Smooth random RGB texture in [0, 1] (blurred noise), (1, 3, H, W)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, size[0] // 4 + 2, size[1] // 4 + 2, generator=g)
    x = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)[..., : size[0], : size[1]]
    return x.clamp(0, 1)


class BruteForceRAFT(nn.Module):
    """A stand-in with torchvision RAFT's documented convention, exact on integer translations.

    ``forward(image1, image2)`` returns ``[flow]`` with a constant flow ``d`` on image1's grid that
    points into image2: the integer ``d`` minimising ``|image2(p + d) - image1(p)|`` over the interior
    of the valid (unpadded) region, so that ``backward_warp(image2, flow) ~= image1``.
    """

    def __init__(self, valid: tuple[int, int], radius: int = 4) -> None:
        super().__init__()
        self.valid = valid
        self.radius = radius
        self.calls: list[tuple[torch.Tensor, torch.Tensor, int]] = []

    def forward(self, image1: torch.Tensor, image2: torch.Tensor, num_flow_updates: int = 12) -> list[torch.Tensor]:
        self.calls.append((image1.clone(), image2.clone(), num_flow_updates))
        (h, w), r = self.valid, self.radius
        ref = image1[..., r : h - r, r : w - r]
        best = None
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                cand = image2[..., r + dy : h - r + dy, r + dx : w - r + dx]
                err = (cand - ref).abs().mean().item()
                if best is None or err < best[0]:
                    best = (err, dx, dy)
        assert best is not None
        flow = image1.new_zeros(image1.shape[0], 2, *image1.shape[-2:])
        flow[:, 0], flow[:, 1] = best[1], best[2]
        return [flow.clone() for _ in range(num_flow_updates)]


class TestTorchvisionConvention:
    def test_correlation_samples_image2_at_coords1(self) -> None:
        # Ground the A7 resolution in torchvision's own code: RAFT's correlation lookup at
        # coords1 = coords0 + flow reads fmap2, so the best flow d satisfies fmap2(p + d) = fmap1(p).
        from torchvision.models.optical_flow._utils import make_coords_grid
        from torchvision.models.optical_flow.raft import CorrBlock

        fmap1 = torch.randn(1, 32, 12, 12)
        d = (2, -1)  # (x, y)
        fmap2 = torch.roll(fmap1, shifts=(d[1], d[0]), dims=(-2, -1))  # fmap2(p + d) = fmap1(p)
        block = CorrBlock(num_levels=1, radius=0)
        block.build_pyramid(fmap1, fmap2)
        coords0 = make_coords_grid(1, 12, 12)
        scores = {}
        for dx in range(-3, 4):
            for dy in range(-3, 4):
                shift = torch.tensor([dx, dy], dtype=torch.float32).view(1, 2, 1, 1)
                corr = block.index_pyramid(centroids_coords=coords0 + shift)
                scores[(dx, dy)] = corr[..., 3:-3, 3:-3].mean().item()
        assert max(scores, key=scores.get) == d


class TestRAFTTeacher:
    def test_cardinality_padding_and_no_graph(self, teacher: RAFTTeacher) -> None:
        a = torch.rand(2, 3, 21, 30, requires_grad=True)
        b = torch.rand(2, 3, 21, 30, requires_grad=True)
        out = teacher(a, b)
        assert out.shape == (2, 2, 21, 30)
        assert out.dtype == torch.float32 and out.is_contiguous()
        assert torch.isfinite(out).all()
        assert not out.requires_grad and out.grad_fn is None

    def test_frozen(self, teacher: RAFTTeacher) -> None:
        assert all(not p.requires_grad for p in teacher.parameters())
        assert sum(p.numel() for p in teacher.parameters()) == SMALL_PARAMS
        teacher.train()
        assert not teacher.training and not any(m.training for m in teacher.modules())
        teacher.train(True)
        assert not any(m.training for m in teacher.modules())
        assert teacher.eval() is teacher and teacher.train() is teacher
        wrapper = nn.Sequential(nn.Conv2d(3, 3, 1), teacher)
        wrapper.train()
        assert wrapper[0].training and not teacher.training and not teacher.raft.training

    def test_large_builds(self) -> None:
        with pytest.warns(UserWarning, match="randomly initialised raft_large"):
            big = RAFTTeacher("large", weights=None)
        assert sum(p.numel() for p in big.parameters()) == LARGE_PARAMS
        assert big.num_flow_updates == 12 and "large" in repr(big)

    def test_untrained_warning(self) -> None:
        with pytest.warns(UserWarning, match="meaningless"):
            RAFTTeacher("small", weights=None)

    def test_input_mapping_and_order(self) -> None:
        fake = BruteForceRAFT(valid=(20, 27), radius=1)
        t = RAFTTeacher(module=fake, num_flow_updates=3)
        a = torch.zeros(1, 3, 20, 27)  # black
        b = torch.ones(1, 3, 20, 27)  # white
        out = t(a, b)
        assert out.shape == (1, 2, 20, 27)
        (image1, image2, n) = fake.calls[-1]
        assert n == 3
        assert image1.shape == image2.shape == (1, 3, 128, 128)  # padded to >= 128 and a multiple of 8
        assert image1.min() >= -1 and image1.max() <= 1 and image2.min() >= -1 and image2.max() <= 1
        # [0, 1] -> [-1, 1]; image1 is frame_b (white -> 1), image2 is frame_a (black -> -1).
        assert torch.all(image1 == 1.0) and torch.all(image2 == -1.0)
        c = torch.rand(1, 3, 20, 27)
        t(c, c)
        image1, _, _ = fake.calls[-1]
        torch.testing.assert_close(image1[..., :20, :27], 2 * c - 1)
        torch.testing.assert_close(image1[..., 20:, :27], (2 * c - 1)[..., -1:, :].expand(1, 3, 108, 27))  # replicate
        # Larger inputs are padded to the next multiple of 8 only.
        fake.valid = (130, 131)
        t(torch.rand(1, 3, 130, 131), torch.rand(1, 3, 130, 131))
        assert fake.calls[-1][0].shape == (1, 3, 136, 136)

    def test_orientation_matches_library_convention(self) -> None:
        # A7: content shifted +3 px in x from frame a to frame b => flow_{a->b} has x = -3, and warping
        # frame a with it reproduces frame b (the student's meaning: backward_warp(I_a, flow_{a->b}) ~= I_b).
        frame_a = _texture()
        frame_b = torch.roll(frame_a, shifts=3, dims=-1)  # frame_b(x) = frame_a(x - 3)
        t = RAFTTeacher(module=BruteForceRAFT(valid=(40, 44)))
        flow = t(frame_a, frame_b)
        assert torch.all(flow[:, 0] == -3.0) and torch.all(flow[:, 1] == 0.0)
        interior = (..., slice(4, -4), slice(4, -4))
        warped = backward_warp(frame_a, flow)
        torch.testing.assert_close(warped[interior], frame_b[interior], atol=1e-6, rtol=0)
        assert (frame_a - frame_b)[interior].abs().mean() > 0.01  # the shift is visible
        # Eq. 9's literal argument order would give the opposite flow, which does not warp a onto b.
        literal = t(frame_b, frame_a)
        assert torch.all(literal[:, 0] == 3.0)
        assert (backward_warp(frame_a, literal) - frame_b)[interior].abs().mean() > 0.01

    def test_channel_order_x_then_y(self) -> None:
        frame_a = _texture(seed=1)
        frame_b = torch.roll(frame_a, shifts=2, dims=-2)  # content moves +2 px in y only
        flow = RAFTTeacher(module=BruteForceRAFT(valid=(40, 44)))(frame_a, frame_b)
        assert torch.all(flow[:, 0] == 0.0) and torch.all(flow[:, 1] == -2.0)
        interior = (..., slice(4, -4), slice(4, -4))
        torch.testing.assert_close(backward_warp(frame_a, flow)[interior], frame_b[interior], atol=1e-6, rtol=0)

    @pytest.mark.gpu
    def test_cpu_gpu_parity(self) -> None:
        a, b = _texture((60, 70)), _texture((60, 70), seed=3)
        assert_cpu_gpu_parity(_random_teacher, a, b, atol=1e-3, rtol=1e-3)

    def test_dtype_follows_input(self) -> None:
        t = RAFTTeacher(module=BruteForceRAFT(valid=(16, 16), radius=1))
        out = t(torch.rand(1, 3, 16, 16, dtype=torch.float64), torch.rand(1, 3, 16, 16, dtype=torch.float64))
        assert out.dtype == torch.float64

    def test_min_size_option(self) -> None:
        fake = BruteForceRAFT(valid=(10, 10), radius=1)
        RAFTTeacher(module=fake, min_size=16)(torch.rand(1, 3, 10, 10), torch.rand(1, 3, 10, 10))
        assert fake.calls[-1][0].shape == (1, 3, 16, 16)


class TestWeights:
    def test_pth_and_safetensors(self, teacher: RAFTTeacher, tmp_path: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.clone() for k, v in teacher.raft.state_dict().items()}
        torch.save(state, tmp_path / "w.pth")
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "w.safetensors"))
        for name in ("w.pth", "w.safetensors"):
            loaded = RAFTTeacher("small", weights=tmp_path / name, num_flow_updates=2)
            for k, v in loaded.raft.state_dict().items():
                torch.testing.assert_close(v, state[k], rtol=0, atol=0)
            assert all(not p.requires_grad for p in loaded.parameters())
        # str paths work too, and a custom module can take a state dict.
        RAFTTeacher("small", weights=str(tmp_path / "w.pth"), num_flow_updates=2)
        custom = _random_teacher().raft
        RAFTTeacher(module=custom, weights=tmp_path / "w.safetensors")
        torch.testing.assert_close(custom.state_dict()["feature_encoder.convnormrelu.0.weight"],
                                   state["feature_encoder.convnormrelu.0.weight"])

    def test_default_missing_names_file_and_dir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TORCH_HOME", str(tmp_path))
        expected_dir = tmp_path / "hub" / "checkpoints"
        assert raft_default_weights_path("small") == expected_dir / "raft_small_C_T_V2-01064c6d.pth"
        assert raft_default_weights_path("large").name == "raft_large_C_T_SKHT_V2-ff5fadd5.pth"
        with pytest.raises(FileNotFoundError) as info:
            RAFTTeacher("small")  # weights="default" is the default
        msg = str(info.value)
        assert "raft_small_C_T_V2-01064c6d.pth" in msg and str(expected_dir) in msg and "weights=" in msg
        with pytest.raises(FileNotFoundError, match="raft_large_C_T_SKHT_V2-ff5fadd5.pth"):
            RAFTTeacher("large", weights="default")

    def test_default_present_loads_offline(
        self, teacher: RAFTTeacher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TORCH_HOME", str(tmp_path))
        ckpt = tmp_path / "hub" / "checkpoints"
        ckpt.mkdir(parents=True)
        state = teacher.raft.state_dict()
        torch.save(state, ckpt / "raft_small_C_T_V2-01064c6d.pth")

        def no_network(*args: object, **kwargs: object) -> None:
            raise AssertionError("RAFTTeacher must never download")

        monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
        monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # trained weights: no "untrained" warning
            loaded = RAFTTeacher("small", weights="default", num_flow_updates=2)
        for k, v in loaded.raft.state_dict().items():
            torch.testing.assert_close(v, state[k], rtol=0, atol=0)

    def test_bad_weights(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="no such file"):
            RAFTTeacher("small", weights=tmp_path / "missing.pth")
        torch.save({"nope": torch.zeros(1)}, tmp_path / "bad.pth")
        with pytest.raises(ValueError, match="does not match"):
            RAFTTeacher("small", weights=tmp_path / "bad.pth")
        torch.save([torch.zeros(1)], tmp_path / "list.pth")
        with pytest.raises(TypeError, match="state dict"):
            RAFTTeacher("small", weights=tmp_path / "list.pth")


class TestExceptions:
    def test_constructor(self) -> None:
        with pytest.raises(ValueError, match="model"):
            RAFTTeacher("medium", weights=None)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="model"):
            raft_default_weights_path("tiny")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="weights"):
            RAFTTeacher("small", weights=3)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="module"):
            RAFTTeacher(module="raft")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="num_flow_updates"):
            RAFTTeacher(module=nn.Identity(), num_flow_updates=0)
        with pytest.raises(TypeError, match="num_flow_updates"):
            RAFTTeacher(module=nn.Identity(), num_flow_updates=2.0)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="min_size"):
            RAFTTeacher(module=nn.Identity(), min_size=0)

    def test_forward(self) -> None:
        t = RAFTTeacher(module=BruteForceRAFT(valid=(8, 8), radius=1))
        x = torch.rand(1, 3, 8, 8)
        with pytest.raises(ValueError, match="frame_a"):
            t(torch.rand(1, 1, 8, 8), x)
        with pytest.raises(ValueError, match="frame_b"):
            t(x, torch.rand(3, 8, 8))
        with pytest.raises(ValueError, match="same shape"):
            t(x, torch.rand(1, 3, 8, 9))
        with pytest.raises(ValueError, match="same shape"):
            t(torch.rand(2, 3, 8, 8), x)
        with pytest.raises(TypeError, match="frame_a"):
            t((x * 255).to(torch.uint8), x)
        with pytest.raises(TypeError, match="frame_b"):
            t(x, [x])  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="same dtype"):
            t(x, x.double())
