"""A character-level language model on the Python documentation that ships with CPython
(`--config.dataset=PATH` for any text file, `tiny_shakespeare` when prepared in TFDS).
`--config.cells=gru` (rnn, lstm, gru, peephole_lstm, coupled_lstm) picks the cell."""

from jaxgen.families.language_model.config import language_model_config, language_model_smoke


def get_config(preset: str = "default"):
    config = language_model_config(cells=("lstm",), steps=2000)
    config.model.update(hidden_size=256, num_layers=1)
    if preset == "smoke":
        language_model_smoke(config)
    elif preset == "full":
        config.update(steps=20000, batch_size=64, eval_chars=0)
        config.model.update(hidden_size=512, num_layers=2)
    return config
