"""The five recurrent cells compared at an equal parameter count and step budget: vanilla tanh
RNN, LSTM, GRU, peephole LSTM and coupled-gate LSTM, trained side by side on the same batches.
The report gives bits per character, parameters and steps per second, the learning curves and
the vanishing-gradient picture."""

from jaxgen.families.language_model.config import language_model_config, language_model_smoke


def get_config(preset: str = "default"):
    config = language_model_config(
        cells=("rnn", "lstm", "gru", "peephole_lstm", "coupled_lstm"),
        param_budget=60000,
        steps=1500,
        seq_len=64,
    )
    if preset == "smoke":
        language_model_smoke(config)
    elif preset == "full":
        config.update(steps=20000, batch_size=64, param_budget=1000000, eval_chars=0)
    return config
