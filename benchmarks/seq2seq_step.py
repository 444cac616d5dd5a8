"""Train-step speed of the sequence-to-sequence family: jaxgen (jitted, donated state) vs PyTorch
eager, on the LSTM encoder-decoder with Bahdanau attention of experiments/seq2seq_addition.py.

    python benchmarks/seq2seq_step.py [--quick] [--num-batches 8]
                                      [--repeats N] [--steps N] [--warmup N]

(`--rounds` is `--repeats`.) The task is `experiments/seq2seq_addition.py` (its smoke preset
with `--quick`) loaded with `jaxgen.config.load_config` and built by
`jaxgen.families.build_task` (`Seq2SeqTask`): "535+61" -> "596", one LSTM layer of 128 units,
embeddings of 32, the task's own vocabularies (15 source and 14 target symbols with the
reserved PAD, BOS, EOS and UNK), batch 128, Adam 3e-3 on a cosine schedule over the config's
steps, the gradient clipped to global norm 1. `--quick`: the smoke preset (32 units,
embeddings of 16, batch 32). Every contender trains on the same batches: the first
`--num-batches` batches of the largest length bucket of `task.train_dataset(config.seed)`
(the longest sources and targets the task has; all of a bucket's batches share one shape),
cycled.

One step: encode the padded sources (embedding, the LSTM run over each source up to its length),
then decode with teacher forcing, one target position at a time: Bahdanau attention (score
v . tanh(W_q s + W_k h_j), s the decoder's previous hidden state, softmax over the real source
positions), the LSTM cell fed [embedding of the previous reference symbol; context], the logits
Dense([cell output; context]); the masked cross-entropy over the real target positions (and
the token accuracy), its gradient, clipping, Adam. Contenders, timed interleaved in one process
(benchmarks/harness.py: every round runs each of them for the same number of steps, the
starting contender rotating), medians over rounds:

- `jaxgen`: `Seq2SeqTask.train_step` (the `LossTask` step: value and gradient of
  `Seq2SeqTask.loss`, the gradient's norm, the optax update) jitted with the state donated;
  the decoder is a `lax.scan` over target positions. This is what the training loop runs: its
  `step_fn` jits the same function with the state donated (and one device's shardings), so
  there is no second jaxgen contender.
- `torch`: the same model, loss and optimizer in PyTorch eager: `nn.Embedding`, `nn.LSTM` over
  `pack_padded_sequence` for the encoder (its final (h, c) at each source's length, as
  `nn.RNN(seq_lengths=...)` gives), `nn.LSTMCell` stepped by a Python loop over the target
  positions with the attention written out, `F.cross_entropy` masked, `clip_grad_norm_(1.0)`,
  `torch.optim.Adam` (its defaults otherwise) with the same cosine schedule (`LambdaLR`);
  `torch.set_num_threads` equal to the number of cores XLA's CPU client uses.
- `torch_1thread`: the same PyTorch step on one thread. The step is many small operations
  (B x H matrices): PyTorch's intra-op threads barely help, and on a loaded machine they can
  wait on each other for far longer than the work takes (on a busy 2-core machine, 2 threads
  ran up to 100 times slower than 1), so this contender tells that apart.
Both PyTorch contenders are left out, and said so in the JSON (`torch_missing`), when torch is
not installed (`pip install torch==2.13.0`). With CUDA (`torch.cuda.is_available()`) `torch`
runs there (the source lengths stay on the CPU, as `pack_padded_sequence` wants them; the clock
is read after a synchronization) and there is no `torch_1thread`; the checks run on the CPU.
The JSON's `table` holds the rows (benchmarks/table.py) of `jaxgen` against `torch` and against
`torch_1thread`.

Checks before timing (with torch installed): jaxgen's initial parameters are copied into the
PyTorch model (Flax's `nn.LSTMCell` has one Dense per gate, ii/if/ig/io on the input without a
bias and hi/hf/hg/ho on the hidden state with one; PyTorch stacks the gates i, f, g, o in
`weight_ih` / `weight_hh` and has two biases, of which `bias_ih` is held at zero and not
trained); on one batch the losses must match to 1e-4 relative (the token accuracies to 1e-2)
and the gradients to 1e-3 relative (plus 1e-4 of the largest); after one step each (jaxgen's
`train_step`, the PyTorch step), the parameters must match loosely: Adam's first update is about
lr * sign(gradient), so where a gradient is near zero the two may move a parameter differently,
by up to 2 lr; no parameter may be further apart than that, and 99.9% must be within 1% of lr.

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import math
import pathlib

import harness
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.config import load_config
from jaxgen.families import build_task
from jaxgen.nn.common import count_params

EXPERIMENT = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "seq2seq_addition.py"
GATES = ("i", "f", "g", "o")  # PyTorch's order of the gates stacked in weight_ih / weight_hh
NUM_KEYS = 64  # distinct step keys, cycled (the loss draws nothing without scheduled sampling)
MAX_SEARCH = 10_000  # batches of the train pipeline looked at for the largest bucket's


def seq2seq_task(quick: bool):
    """The task of experiments/seq2seq_addition.py (its smoke preset with --quick)."""
    spec = f"{EXPERIMENT}:smoke" if quick else str(EXPERIMENT)
    return build_task(load_config(spec, []))


def check_supported(task) -> None:
    m = task.config.model
    if (m.cell, m.num_layers, m.bidirectional, m.attention) != ("lstm", 1, False, "bahdanau"):
        raise SystemExit(
            "the PyTorch copy is of one unidirectional LSTM layer with Bahdanau "
            f"attention; the config asks for {m.to_dict()}"
        )
    if task.config.objective.scheduled_sampling:
        raise SystemExit("the PyTorch copy trains by plain teacher forcing")
    if task.config.get("lr_schedule", "constant") not in ("constant", "cosine"):
        raise SystemExit("the PyTorch copy knows the constant and cosine schedules")


def largest_bucket_batches(task, count: int) -> list[dict[str, np.ndarray]]:
    """The first `count` batches of the train pipeline (seed `config.seed`) whose shape is the
    largest bucket's."""
    source_len, target_len = max(task.boundaries["train"])
    dataset = task.train_dataset(task.config.seed)
    batches = []
    for i in range(MAX_SEARCH):
        batch = dataset[i]
        if batch["source"].shape[1] == source_len and batch["target_in"].shape[1] == target_len:
            batches.append(batch)
            if len(batches) == count:
                return batches
    raise SystemExit(
        f"only {len(batches)} batches of the bucket {source_len, target_len} in "
        f"the first {MAX_SEARCH} of the train pipeline"
    )


def lr_factor(config):
    """The config's schedule as a factor of the learning rate at update `count` (optax's
    `cosine_decay_schedule` with alpha 0, or 1): what PyTorch's `LambdaLR` is given."""
    if config.get("lr_schedule", "constant") == "constant":
        return lambda count: 1.0
    steps = max(config.steps, 1)
    return lambda count: 0.5 * (1.0 + math.cos(math.pi * min(count, steps) / steps))


# ---- the parameters: Flax's tree <-> PyTorch's names --------------------------------------------


def lstm_to_torch(cell: dict, prefix: str, suffix: str = "") -> dict[str, np.ndarray]:
    """A Flax LSTM cell's parameters as PyTorch's stacked ones: weight_ih = [W_ii; W_if; W_ig;
    W_io] (4H x in), weight_hh likewise, bias_hh the hidden Dense layers' biases, bias_ih zero."""

    def stacked(side: str) -> np.ndarray:
        return np.concatenate([np.asarray(cell[f"{side}{g}"]["kernel"]) for g in GATES], 1).T

    bias = np.concatenate([np.asarray(cell[f"h{g}"]["bias"]) for g in GATES])
    return {
        f"{prefix}weight_ih{suffix}": stacked("i"),
        f"{prefix}weight_hh{suffix}": stacked("h"),
        f"{prefix}bias_ih{suffix}": np.zeros_like(bias),
        f"{prefix}bias_hh{suffix}": bias,
    }


def lstm_from_torch(get, prefix: str, suffix: str = "") -> dict:
    """The inverse of `lstm_to_torch` for `get(name) -> array` (parameters or gradients);
    bias_ih, held at zero and untrained, is left out."""
    w_ih = np.split(get(f"{prefix}weight_ih{suffix}"), 4, 0)
    w_hh = np.split(get(f"{prefix}weight_hh{suffix}"), 4, 0)
    bias = np.split(get(f"{prefix}bias_hh{suffix}"), 4)
    cell = {}
    for g, wi, wh, b in zip(GATES, w_ih, w_hh, bias, strict=True):
        cell[f"i{g}"] = {"kernel": wi.T}
        cell[f"h{g}"] = {"kernel": wh.T, "bias": b}
    return cell


def to_torch_names(params) -> dict[str, np.ndarray]:
    """jaxgen's parameters (one LSTM layer, Bahdanau attention) under the names of
    `TorchSeq2Seq.state_dict()`; a Dense kernel (in x out) becomes a Linear weight (out x in)."""
    p = jax.tree.map(np.asarray, params)
    return {
        "source_embed.weight": p["source_embed"]["embedding"],
        "target_embed.weight": p["target_embed"]["embedding"],
        **lstm_to_torch(p["encoder_0"]["cell"], "encoder.", "_l0"),
        **lstm_to_torch(p["decoder_0"], "decoder."),
        "query.weight": p["query"]["kernel"].T,
        "key.weight": p["key"]["kernel"].T,
        "key.bias": p["key"]["bias"],
        "energy.weight": p["energy"]["kernel"].T,
        "readout.weight": p["readout"]["kernel"].T,
        "readout.bias": p["readout"]["bias"],
    }


def from_torch_names(get) -> dict:
    """jaxgen's parameter tree of `get(torch name) -> numpy array` (the PyTorch model's
    parameters or their gradients)."""
    return {
        "source_embed": {"embedding": get("source_embed.weight")},
        "target_embed": {"embedding": get("target_embed.weight")},
        "encoder_0": {"cell": lstm_from_torch(get, "encoder.", "_l0")},
        "decoder_0": lstm_from_torch(get, "decoder."),
        "query": {"kernel": get("query.weight").T},
        "key": {"kernel": get("key.weight").T, "bias": get("key.bias")},
        "energy": {"kernel": get("energy.weight").T},
        "readout": {"kernel": get("readout.weight").T, "bias": get("readout.bias")},
    }


# ---- the PyTorch model ---------------------------------------------------------------------------


def torch_seq2seq(torch, params):
    """The PyTorch copy of jaxgen's `Seq2Seq` (one LSTM layer, Bahdanau attention) holding
    `params` (jaxgen's tree)."""
    nn = torch.nn
    pack, unpack = nn.utils.rnn.pack_padded_sequence, nn.utils.rnn.pad_packed_sequence
    source_vocab, embed = params["source_embed"]["embedding"].shape
    target_vocab = params["target_embed"]["embedding"].shape[0]
    hidden = params["key"]["kernel"].shape[0]

    class TorchSeq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.source_embed = nn.Embedding(source_vocab, embed)
            self.target_embed = nn.Embedding(target_vocab, embed)
            self.encoder = nn.LSTM(embed, hidden, batch_first=True)
            self.decoder = nn.LSTMCell(embed + hidden, hidden)
            self.query = nn.Linear(hidden, hidden, bias=False)
            self.key = nn.Linear(hidden, hidden)
            self.energy = nn.Linear(hidden, 1, bias=False)
            self.readout = nn.Linear(2 * hidden, target_vocab)

        def forward(self, source, lengths, source_mask, target_in):
            """Logits B x T x V, teacher forced. `lengths` is a CPU int64 tensor (what
            pack_padded_sequence wants), `source_mask` B x S bool."""
            packed = pack(
                self.source_embed(source), lengths, batch_first=True, enforce_sorted=False
            )
            outputs, (h, c) = self.encoder(packed)  # h, c: (1, B, H) at each source's end
            memory, _ = unpack(outputs, batch_first=True, total_length=source.shape[1])
            h, c = h[0], c[0]
            keys = self.key(memory)  # B x S x H, once
            embedded = self.target_embed(target_in)  # B x T x E
            logits = []
            for t in range(target_in.shape[1]):
                scores = self.energy(torch.tanh(self.query(h)[:, None] + keys))[..., 0]
                weights = torch.softmax(scores.masked_fill(~source_mask, -1e9), -1)
                context = torch.bmm(weights[:, None], memory)[:, 0]
                h, c = self.decoder(torch.cat([embedded[:, t], context], -1), (h, c))
                logits.append(self.readout(torch.cat([h, context], -1)))
            return torch.stack(logits, 1)

    model = TorchSeq2Seq()
    with torch.no_grad():
        state = model.state_dict()
        for name, value in to_torch_names(params).items():
            if state[name].shape != value.shape:
                raise ValueError(f"{name}: {tuple(state[name].shape)} vs {value.shape}")
            state[name].copy_(torch.from_numpy(np.array(value, np.float32)))
    # Flax's cell has one bias per gate; PyTorch adds two. The input one stays zero, untrained.
    model.encoder.bias_ih_l0.requires_grad_(False)
    model.decoder.bias_ih.requires_grad_(False)
    return model


def torch_batch(torch, batch: dict, device="cpu") -> dict:
    """A batch as the tensors the PyTorch step takes (made once, outside the timing), on
    `device` but for the lengths, which `pack_padded_sequence` takes on the CPU."""
    source = torch.from_numpy(np.asarray(batch["source"], np.int64))
    lengths = torch.from_numpy(np.asarray(batch["source_length"], np.int64))
    return {
        "source": source.to(device),
        "lengths": lengths,
        "source_mask": (torch.arange(source.shape[1])[None] < lengths[:, None]).to(device),
        "target_in": torch.from_numpy(np.asarray(batch["target_in"], np.int64)).to(device),
        "target_out": torch.from_numpy(np.asarray(batch["target_out"], np.int64)).to(device),
        "target_mask": torch.from_numpy(np.asarray(batch["target_mask"], np.float32)).to(device),
    }


def torch_loss(torch, model, b: dict):
    """(mean cross-entropy over the real target positions, token accuracy), as
    `jaxgen.families.seq2seq.task.masked_cross_entropy`."""
    logits = model(b["source"], b["lengths"], b["source_mask"], b["target_in"])
    entropy = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), b["target_out"].flatten(), reduction="none"
    ).view_as(b["target_mask"])
    count = b["target_mask"].sum().clamp_min(1.0)
    with torch.no_grad():
        accuracy = ((logits.argmax(-1) == b["target_out"]) * b["target_mask"]).sum() / count
    return (entropy * b["target_mask"]).sum() / count, accuracy


def torch_trainer(torch, config, params, device="cpu"):
    """(model, step(batch) -> (loss, grad norm, accuracy)): the PyTorch model holding `params`
    on `device` and its train step (Adam with the config's rate, schedule and betas,
    clipping)."""
    model = torch_seq2seq(torch, params).to(device)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(
        trained,
        lr=config.learning_rate,
        betas=(config.get("adam_b1", 0.9), config.get("adam_b2", 0.999)),
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config))
    clip = config.get("grad_clip_norm", 0.0)

    def step(b: dict):
        loss, accuracy = torch_loss(torch, model, b)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            norm = torch.nn.utils.clip_grad_norm_(trained, clip)
        else:
            norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in trained]))
        optimizer.step()
        schedule.step()
        return loss.detach(), norm, accuracy

    return model, step


def torch_params(model) -> dict:
    """The PyTorch model's parameters as jaxgen's tree of numpy arrays."""
    named = dict(model.named_parameters())
    return from_torch_names(lambda name: named[name].detach().numpy().copy())


def torch_grads(model) -> dict:
    named = dict(model.named_parameters())
    return from_torch_names(lambda name: named[name].grad.numpy().copy())


# ---- checks --------------------------------------------------------------------------------------


def check_against_torch(torch, task, params0, batch: dict, key) -> dict[str, float]:
    """Loss, gradients and one step of the PyTorch copy against jaxgen's, from the same
    parameters on `batch`; asserts and returns the differences."""
    device_batch = jax.tree.map(jnp.asarray, batch)

    def loss(params):
        return task.loss(params, device_batch, key, jnp.zeros((), jnp.int32))

    (jax_loss, jax_aux), jax_grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params0)
    jax_grads = jax.tree.map(np.asarray, jax_grads)
    model, _ = torch_trainer(torch, task.config, params0)
    tb = torch_batch(torch, batch)
    t_loss, t_accuracy = torch_loss(torch, model, tb)
    t_loss.backward()
    t_loss = t_loss.item()
    loss_rel = abs(t_loss - float(jax_loss)) / abs(float(jax_loss))
    assert loss_rel < 1e-4, f"losses differ: torch {t_loss}, jaxgen {float(jax_loss)}"
    accuracy_diff = abs(float(t_accuracy) - float(jax_aux["token_accuracy"]))
    assert accuracy_diff < 1e-2, f"token accuracies differ by {accuracy_diff}"
    grad_scale = max(float(np.max(np.abs(g))) for g in jax.tree.leaves(jax_grads))
    grads_rel = harness.assert_close(torch_grads(model), jax_grads, 1e-3, 1e-4 * grad_scale)

    # One step each from params0.
    state = jax.jit(task.init_state)(jax.random.key(task.config.seed)).replace(params=params0)
    state, metrics = jax.jit(task.train_step)(state, device_batch, key)
    jax_after = jax.tree.map(np.asarray, state.params)
    model, step = torch_trainer(torch, task.config, params0)
    _, t_norm, _ = step(tb)
    torch_after = torch_params(model)
    lr = task.config.learning_rate
    # Adam's first update is lr * g / (|g| + eps) per element: where |g| is near eps or the two
    # gradients are near zero with different signs, the updates differ by up to 2 lr. So: no
    # parameter further apart than that, and all but a few within 1% of lr of each other.
    params_rel = harness.assert_close(torch_after, jax_after, 0, 2 * lr)
    apart = [
        np.abs(a - b)
        for a, b in zip(jax.tree.leaves(torch_after), jax.tree.leaves(jax_after), strict=True)
    ]
    apart_lr = max(float(np.max(d)) for d in apart) / lr
    share = sum(int(np.sum(d < 1e-2 * lr)) for d in apart) / sum(d.size for d in apart)
    assert share >= 0.999, f"only {share:.4%} of the parameters within 1% of lr after one step"
    norm_rel = abs(float(t_norm) - float(metrics["grad_norm"])) / float(metrics["grad_norm"])
    return {
        "loss_jaxgen": round(float(jax_loss), 6),
        "loss_torch": round(t_loss, 6),
        "loss_rel_diff": loss_rel,
        "token_accuracy_abs_diff": accuracy_diff,
        "grads_max_rel_diff": grads_rel,
        "grad_norm_rel_diff": norm_rel,
        "params_after_one_step_max_rel_diff": params_rel,
        "params_after_one_step_max_abs_diff_in_lr": round(apart_lr, 5),
        "params_after_one_step_share_within_1pct_of_lr": round(share, 6),
    }


# ---- contenders ----------------------------------------------------------------------------------


def torch_contender(torch, task, params0, batches: list[dict], platform):
    """run(n, threads): n PyTorch steps from `params0` on `platform`'s device, cycling through
    `batches`; threads None keeps the platform's."""
    _, step = torch_trainer(torch, task.config, params0, platform.device)
    data = [torch_batch(torch, b, platform.device) for b in batches]
    calls = [0]

    def run(n: int, threads: int | None = None) -> None:
        if threads is None:
            platform.set_threads()
        else:
            torch.set_num_threads(threads)
        for _ in range(n):
            loss, _, _ = step(data[calls[0] % len(data)])
            calls[0] += 1
        platform.sync()
        float(loss)  # eager ops are done when they return; this reads the last loss

    return run


def main() -> None:
    bench = harness.Benchmark("seq2seq_step", __doc__, repeats=(15, 2), steps=(40, 3))
    bench.parser.add_argument(
        "--num-batches", type=int, default=8, help="distinct batches of the largest bucket"
    )
    args = bench.parse()
    log = harness.log

    log("building the seq2seq task ...")
    task = seq2seq_task(args.quick)
    check_supported(task)
    config = task.config
    batches = largest_bucket_batches(task, args.num_batches)
    keys = list(jax.random.split(jax.random.key(42), NUM_KEYS))
    init_key = jax.random.key(config.seed)
    params0 = jax.jit(task.init_params)(init_key)
    xla_threads = harness.machine_facts()["cores"]

    payload, checks = {}, {}
    torch = harness.import_torch()
    if torch is None:
        payload["torch_missing"] = harness.torch_missing()
    else:
        torch.set_num_threads(xla_threads)
        log("checking the PyTorch copy against jaxgen (loss, gradients, one step) ...")
        checks = check_against_torch(torch, task, params0, batches[0], keys[0])
        log(f"checks: {checks}")

    device_batches = [jax.tree.map(jnp.asarray, b) for b in batches]
    stepper = harness.Stepper(
        harness.jit_train_step(task, task.train_step),
        jax.jit(task.init_state)(init_key),
        device_batches,
        keys,
    )
    contenders = {"jaxgen": stepper}
    compile_s = {"jaxgen": round(stepper.compile(), 3)}
    platform = None  # without torch, no PyTorch rows
    if torch is not None:
        platform = harness.TorchPlatform(torch, xla_threads)
        payload["torch_platform"] = platform.facts()
        torch_run = torch_contender(torch, task, params0, batches, platform)
        contenders["torch"] = torch_run
        if not platform.cuda:
            contenders["torch_1thread"] = lambda n: torch_run(n, threads=1)

    log(f"timing {len(contenders)} contenders, {args.repeats} rounds of {args.steps} steps ...")
    times = harness.interleave(contenders, args.repeats, args.steps, args.warmup)
    results = harness.summarize(times)
    ratios = {}
    for reference in ("torch", "torch_1thread"):
        if reference in times:
            ratios[reference] = harness.speed_ratio(times, "jaxgen", reference)
            for name in results:
                r = harness.speed_ratio(times, name, reference)
                results[name][f"speed_vs_{reference}_median"] = r["median_per_round"]
                results[name][f"speed_vs_{reference}_best_rounds"] = r["of_best_rounds"]

    m = config.model
    source_len, target_len = batches[0]["source"].shape[1], batches[0]["target_in"].shape[1]
    config_name = f"{EXPERIMENT.relative_to(EXPERIMENT.parent.parent)}"
    table = harness.torch_rows(
        times,
        platform,
        family="seq2seq",
        experiment=config_name,
        preset="smoke" if args.quick else "default",
        step=(
            f"batch {config.batch_size} ({config.dataset}), sources of {source_len} and "
            f"targets of {target_len} symbols (the largest length bucket); embeddings "
            f"{m.embed_dim}, LSTM encoder {m.hidden_size} over each source's length, "
            f"LSTM decoder {m.hidden_size} with Bahdanau attention, teacher forced, one "
            "position at a time; masked cross-entropy; "
            f"Adam {config.learning_rate:g} ({config.get('lr_schedule', 'constant')}), "
            f"clipped at global norm {config.get('grad_clip_norm', 0.0):g}; 1 update"
        ),
    )
    bench.emit(
        protocol_note=(
            "speed_vs_X_median = median over rounds of (X's time / this one's time), above 1 "
            "when faster than X; jaxgen_over_X: jaxgen's speed over X's (of the medians, median "
            "of the per-round ratios, of the fastest rounds)"
        ),
        model=(
            f"seq2seq: embeddings {m.embed_dim}, LSTM encoder {m.hidden_size} "
            f"(sequence lengths), LSTM decoder {m.hidden_size} with Bahdanau attention, "
            "teacher forced, masked cross-entropy"
        ),
        config=config_name + (":smoke" if args.quick else ""),
        optimizer=(
            f"adam {config.learning_rate} ({config.get('lr_schedule', 'constant')} schedule over "
            f"{config.steps} steps), global-norm clipping {config.get('grad_clip_norm', 0.0)}"
        ),
        data=(
            f"{config.dataset}: the first {len(batches)} batches of the largest length bucket "
            f"of the train pipeline (seed {config.seed}), cycled"
        ),
        batch_size=config.batch_size,
        source_length=source_len,
        target_length=target_len,
        source_vocab=len(task.source_vocab),
        target_vocab=len(task.target_vocab),
        hidden_size=m.hidden_size,
        embed_dim=m.embed_dim,
        params=count_params(params0),
        cores_xla_uses=xla_threads,
        torch_threads=platform.threads if torch is not None else None,
        compile_s=compile_s,
        checks=checks,
        jaxgen_over_torch=ratios.get("torch"),
        jaxgen_over_torch_1thread=ratios.get("torch_1thread"),
        results=results,
        table=table,
        **payload,
    )


if __name__ == "__main__":
    main()
