"""Data sets by name and the grain input pipeline."""

from jaxgen.data.datasets import Split, data_dir, load_split
from jaxgen.data.pipeline import to_model_inputs, train_dataset

__all__ = ["Split", "data_dir", "load_split", "to_model_inputs", "train_dataset"]
