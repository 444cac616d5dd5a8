"""TFDS builders for the data sets that ship inside installed packages (no download, no TF).

They write `array_record` files of `tfds.features.Tensor` (the `Image` feature's encoder would
import TensorFlow) and are read back with `builder.as_data_source()`.
"""

from jaxgen.data.builders.digits import Digits
from jaxgen.data.builders.mnist5k import Mnist5k

EMBEDDED_BUILDERS = {"digits": Digits, "mnist5k": Mnist5k}

__all__ = ["Digits", "Mnist5k", "EMBEDDED_BUILDERS"]
