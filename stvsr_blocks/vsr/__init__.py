"""VSR nets: the RDN trunk and MBnet's joint two-frame VSR net (NET_SR)."""

from stvsr_blocks.vsr.mbnet_vsr import RDNVSRConfig, RDNVSRNet
from stvsr_blocks.vsr.rdn import RDB, RDN

__all__ = ["RDB", "RDN", "RDNVSRConfig", "RDNVSRNet"]
