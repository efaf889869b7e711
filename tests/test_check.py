"""Shared validators of ``stvsr_blocks._check``: ``check_bool`` (PAC, GridNet, U-Net) and ``arg_nonneg_int`` (the CLI)."""

from __future__ import annotations

import pytest

from stvsr_blocks._check import check_bool
from stvsr_blocks.flow.pac import PacConv2d
from stvsr_blocks.vfi.gridnet import GridNetVFI, GridNetVFIConfig


@pytest.mark.parametrize("value", [True, False])
def test_bools_pass_through(value: bool) -> None:
    assert check_bool(value, "flag") is value


@pytest.mark.parametrize("value", [0, 1, "yes", None, 1.0])
def test_non_bools_name_the_argument_and_the_value(value: object) -> None:
    with pytest.raises(TypeError, match=rf"^flag: expected a bool, got {type(value).__name__} "):
        check_bool(value, "flag")


def test_blocks_use_it() -> None:
    with pytest.raises(TypeError, match="normalize_kernel: expected a bool, got int 1"):
        PacConv2d(2, 2, 3, normalize_kernel=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="residual: expected a bool, got str 'no'"):
        GridNetVFI(GridNetVFIConfig(residual="no"))  # type: ignore[arg-type]


def test_arg_nonneg_int_is_the_one_parser_of_nonnegative_options() -> None:
    import argparse

    from stvsr_blocks._check import arg_nonneg_int
    from stvsr_blocks.recipe import evaluate, upscale

    assert arg_nonneg_int("0") == 0 and arg_nonneg_int("128") == 128
    for bad in ("-1", "abc", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected an int >= 0"):
            arg_nonneg_int(bad)
    for mod in (evaluate, upscale):
        p = argparse.ArgumentParser()
        mod.add_arguments(p)
        types = {a.dest: a.type for a in p._actions}
        assert types["tile"] is arg_nonneg_int and types["tile_overlap"] is arg_nonneg_int
