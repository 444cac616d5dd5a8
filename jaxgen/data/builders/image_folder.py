"""The TFDS builder that prepares an image folder (jaxgen/data/image_folder.py) as an
array_record set of PNG/JPEG-encoded `Image` features, written without TensorFlow."""

from __future__ import annotations

import io

import tensorflow_datasets as tfds


class ImageFolder(tfds.core.GeneratorBasedBuilder):
    """The images of one folder layout; `label` when the folder has class subfolders."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Images as found, re-encoded only to match the folder's mode."}

    def __init__(self, *, layout, **kwargs):
        self._layout = layout  # read by _info, which the base constructor calls
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        features = {"image": tfds.features.Image(shape=self._layout.image_shape)}
        if self._layout.class_names:
            features["label"] = tfds.features.ClassLabel(names=list(self._layout.class_names))
        return self.dataset_info_from_configs(
            description=f"The images of {self._layout.root}.",
            features=tfds.features.FeaturesDict(features),
        )

    def _split_generators(self, dl_manager):
        return {
            split: self._generate_examples(items) for split, items in self._layout.splits.items()
        }

    def _generate_examples(self, items):
        for index, (path, label) in enumerate(items):
            example = {"image": self._encoded(path)}
            if self._layout.class_names:
                example["label"] = label
            yield index, example

    def _encoded(self, path) -> bytes:
        """The file's own bytes when it already has the folder's mode and size, else a PNG of
        it (converted; cropped and resized when the layout prepares a folder of mixed sizes)."""
        import numpy as np
        from PIL import Image

        from jaxgen.data import preprocess

        mode = "L" if self._layout.image_shape[2] == 1 else "RGB"
        with Image.open(path) as image:
            if self._layout.prepare is None:
                if image.mode == mode and image.format in ("PNG", "JPEG"):
                    return path.read_bytes()
                pixels = np.asarray(image.convert(mode))
            else:
                crop, size = self._layout.prepare
                pixels = np.asarray(image.convert(mode)).reshape(image.height, image.width, -1)
                if crop == "center":
                    pixels = preprocess.center_crop(pixels[None])[0]
                pixels = preprocess.resize_image(pixels, size).squeeze()
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="PNG")
            return buffer.getvalue()
