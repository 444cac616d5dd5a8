"""Neural-network building blocks for jaxgen."""

from jaxgen.nn.conv import Conv, ConvTranspose
from jaxgen.nn.conv_transpose import conv_transpose
from jaxgen.nn.unpool import (
    bed_of_nails,
    max_pool_with_switches,
    max_unpool,
    upsample_bilinear,
    upsample_nearest,
)

__all__ = [
    "Conv",
    "ConvTranspose",
    "bed_of_nails",
    "conv_transpose",
    "max_pool_with_switches",
    "max_unpool",
    "upsample_bilinear",
    "upsample_nearest",
]
