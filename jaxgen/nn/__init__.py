"""Neural-network building blocks for jaxgen."""

from jaxgen.nn.conv_transpose import ConvTranspose, conv_transpose
from jaxgen.nn.unpool import (
    bed_of_nails,
    max_pool_with_switches,
    max_unpool,
    upsample_bilinear,
    upsample_nearest,
)

__all__ = [
    "ConvTranspose",
    "bed_of_nails",
    "conv_transpose",
    "max_pool_with_switches",
    "max_unpool",
    "upsample_bilinear",
    "upsample_nearest",
]
