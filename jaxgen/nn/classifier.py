"""The small CNN whose features give the sample-quality metrics (FID, KID, classifier score)."""

from __future__ import annotations

import flax.linen as nn
import jax

from jaxgen.nn.conv import Conv

FEATURE_SIZE = 128


class DigitClassifier(nn.Module):
    """Two 3x3 conv + relu + 2x2 average-pool stages (32, 64 channels, SAME padding), a dense
    layer of 128 relu units (the features) and a dense layer of logits. No batch norm and no
    dropout, so applying it is a pure function of the parameters.

    The post-ReLU maps of the convolutions are sown as intermediates `conv1` and `conv2` (read
    them with `apply(..., mutable=["intermediates"])`; networks run in reverse optimise images
    against them); sowing adds no parameters. With `conv_only`, the dense layers are skipped and
    (None, None) returned: the convolutions take images of any size, the dense layers only the
    size they were trained on."""

    num_classes: int = 10

    @nn.compact
    def __call__(
        self, x_NxHxWxC: jax.Array, conv_only: bool = False
    ) -> tuple[jax.Array, jax.Array] | tuple[None, None]:
        h = x_NxHxWxC
        for index, channels in enumerate((32, 64), start=1):
            h = nn.relu(Conv(channels, (3, 3), padding="SAME")(h))
            self.sow("intermediates", f"conv{index}", h)
            h = nn.avg_pool(h, (2, 2), strides=(2, 2), padding="SAME")
        if conv_only:
            return None, None
        h = h.reshape(h.shape[0], -1)
        features_NxF = nn.relu(nn.Dense(FEATURE_SIZE)(h))
        return features_NxF, nn.Dense(self.num_classes)(features_NxF)
