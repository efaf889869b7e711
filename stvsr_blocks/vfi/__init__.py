"""VFI nets: the multi-scale GridNet (MBnet NET_FI) and a U-Net ablation."""

from stvsr_blocks.vfi.gridnet import GridNet, GridNetVFI, GridNetVFIConfig
from stvsr_blocks.vfi.unet import UNetVFI, UNetVFIConfig

__all__ = ["GridNet", "GridNetVFI", "GridNetVFIConfig", "UNetVFI", "UNetVFIConfig"]
