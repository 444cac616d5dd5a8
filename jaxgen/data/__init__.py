"""Data sets by name, text corpora and the grain input pipelines."""

from jaxgen.data.datasets import Split, config_splits, data_dir, load_split
from jaxgen.data.pipeline import to_model_inputs, train_dataset
from jaxgen.data.text import TextCorpus, eval_windows, load_text, tbptt_dataset

__all__ = [
    "Split",
    "config_splits",
    "TextCorpus",
    "data_dir",
    "eval_windows",
    "load_split",
    "load_text",
    "tbptt_dataset",
    "to_model_inputs",
    "train_dataset",
]
