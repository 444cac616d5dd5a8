"""The Keras `addition_rnn` task as sequence to sequence ("535+61" -> "596"; jaxgen/families/
seq2seq/): 50,000 problems of up to 3-digit operands, an LSTM encoder-decoder of 128 units with
Bahdanau attention, evaluated free-running on held-out problems by greedy and beam decoding, and
on 4-digit operands it never saw (length extrapolation)."""

from jaxgen.families.seq2seq.config import seq2seq_config, seq2seq_smoke


def get_config(preset: str = "default"):
    config = seq2seq_config(dataset="addition", max_length=None)
    if preset == "smoke":
        seq2seq_smoke(config)
    elif preset == "full":  # Keras's own setting: no attention, the input reversed
        config.update(steps=20000)
        config.model.attention = "none"
        config.addition.reverse = True
    return config
