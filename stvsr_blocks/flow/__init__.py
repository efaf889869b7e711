"""Flow blocks: OFR pyramid (NET_flow), pixel-adaptive convolution, PAC refiner (NET_re), RAFT teacher,
and a parameter-free classical estimator."""

from stvsr_blocks.flow.classical import ClassicalFlowEstimator
from stvsr_blocks.flow.ofr import OFRConfig, OFRFlowNet
from stvsr_blocks.flow.pac import PacConv2d, PacConvTranspose2d, PacPool2d, pac_conv2d, pac_conv_transpose2d, pac_pool2d
from stvsr_blocks.flow.raft import RAFTTeacher
from stvsr_blocks.flow.refiner import PACFlowRefiner, PACRefinerConfig

__all__ = [
    "ClassicalFlowEstimator",
    "OFRConfig",
    "OFRFlowNet",
    "PACFlowRefiner",
    "PACRefinerConfig",
    "PacConv2d",
    "PacConvTranspose2d",
    "PacPool2d",
    "RAFTTeacher",
    "pac_conv2d",
    "pac_conv_transpose2d",
    "pac_pool2d",
]
