"""Dates written in 16 human formats to ISO 8601 ("Sunday, 3 May 1987" -> "1987-05-03";
jaxgen/families/seq2seq/): 20,000 generated pairs, a bidirectional LSTM encoder and Luong
attention, evaluated free-running on held-out dates."""

from jaxgen.families.seq2seq.config import seq2seq_config, seq2seq_smoke


def get_config(preset: str = "default"):
    config = seq2seq_config(dataset="dates", steps=4000)
    config.model.update(bidirectional=True, attention="luong")
    if preset == "smoke":
        seq2seq_smoke(config)
    elif preset == "full":
        config.update(steps=20000)
        config.dates.examples = 100000
    return config
