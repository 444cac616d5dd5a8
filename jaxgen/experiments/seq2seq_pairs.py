"""Translation of sentence pairs (jaxgen/families/seq2seq/): `--config.dataset=` a TSV file of
pairs (the Anki/Tatoeba format: source TAB target), a folder of train.tsv / test.tsv (and
validation.tsv), or `de_en`, the German-English sentences of the Ding dictionary that Debian's
`trans-de-en` package installs. Words as symbols (those seen at least 3 times in the training
pairs; the rest are <unk>), a GRU of 128 units with a bidirectional encoder and Bahdanau
attention, sized for a CPU; checkpoints ranked by validation BLEU, the test BLEU and chrF by
sacrebleu on held-out pairs."""

from jaxgen.families.seq2seq.config import seq2seq_config, seq2seq_smoke


def get_config(preset: str = "default"):
    config = seq2seq_config(
        dataset="de_en", steps=4000, batch_size=64, max_length=20, num_buckets=4,
        min_count=3, select_by="bleu",
    )  # fmt: skip
    config.model.update(cell="gru", hidden_size=128, embed_dim=64, bidirectional=True)
    if preset == "smoke":
        seq2seq_smoke(config)
    elif preset == "full":
        config.update(steps=50000, batch_size=128, min_count=1)
        config.model.update(hidden_size=512, num_layers=2, embed_dim=256)
    return config
