"""The TFDS builder that prepares an IDX folder (jaxgen/data/idx.py) as an array_record set with
the features of TFDS's own `mnist` builder, written without TensorFlow.

It is the image-folder builder with arrays for files: the same splits, the same keys (an
example's index in its file, as TFDS's `mnist` keys them, so TFDS's shuffle puts the records in
the same order) and PNG bytes from PIL where TFDS's `Image` feature would call TensorFlow.
"""

from __future__ import annotations

import io

import numpy as np
import tensorflow_datasets as tfds

from jaxgen.data.builders.image_folder import ImageFolder


class IdxFolder(ImageFolder):
    """The images and labels of one IdxLayout: splits train and test, uint8 rows x cols x 1
    images and a ClassLabel (of 10 classes for MNIST's layout), as TFDS's `mnist` has them."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "The IDX files' images as lossless PNG, their labels as found."}

    def _info(self) -> tfds.core.DatasetInfo:
        names = self._layout.class_names
        digits = names == tuple(str(c) for c in range(len(names)))
        label = (
            tfds.features.ClassLabel(num_classes=len(names))
            if digits
            else tfds.features.ClassLabel(names=list(names))
        )
        return self.dataset_info_from_configs(
            description=f"The IDX files of {self._layout.root}.",
            features=tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=self._layout.image_shape), "label": label}
            ),
            supervised_keys=("image", "label"),
        )

    def _encoded(self, pixels_HxW: np.ndarray) -> bytes:
        """A PNG of one image (PIL's default compression, as image folders are written)."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(pixels_HxW).save(buffer, format="PNG")
        return buffer.getvalue()
