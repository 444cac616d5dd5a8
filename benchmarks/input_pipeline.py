"""The input pipeline: decoding speed, images/s streamed with 0, 1 and 2 worker processes against
the images/s the matching train step consumes, and the peak memory of a run over a set of
200,000 images.

    python benchmarks/input_pipeline.py [--quick] [--images 200000] [--skip-memory]

Three parts, each a key of the JSON object printed on stdout (progress goes to stderr):

- `decode`: images/s of PIL and of OpenCV (cv2.imdecode) decoding the records' own bytes, one
  image at a time: a 28x28 PNG of the MNIST-format set and a 218x178 JPEG of the CelebA-format
  set. TFDS's `Image` feature decodes with OpenCV when it is installed, else PIL; jaxgen installs
  opencv-python-headless for that reason.
- `pipeline`: the two sets written by TFDS's own `mnist` and `celeb_a` builders
  (tests/tfds_formats: PNG and JPEG `Image` features in array_record files), read as a training
  run reads them: `data_in_memory_mb=0` (every image read from its record and decoded as it is
  needed), CelebA centre-cropped and resized to 64x64 (DCGAN's recipe), batches of the
  experiment's size through `jaxgen.data.pipeline.iterate` with 0 workers (one background
  thread), 1 and 2 worker processes; and, beside them, the same batches from memory. Against
  them, `train_step_images_per_s`: the train step of `experiments/autoencoder.py` (MNIST) and of
  `experiments/dcgan.py` (CelebA 64x64), jitted with the state donated as the loop does.
  The pipeline keeps up with training when its images/s is above the step's.
- `memory`: a synthetic TFDS set of `--images` 64x64x3 JPEGs (train, and a test split of 5%)
  is written once to `--data-dir`; then `jaxgen train --config=experiments/autoencoder.py
  --config.steps=30` (the shallow dense autoencoder) runs on it in a subprocess, and its peak
  resident set (ru_maxrss, Linux) is reported against the 2 GiB bound of issue 11. Its
  validation split (10% of train) and test split are evaluated in chunks.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

import harness
import jax
import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests/tfds_formats: the TFDS-format writers

from jaxgen.data import pipeline  # noqa: E402
from jaxgen.data.datasets import clear_caches, load_split  # noqa: E402

MEMORY_BOUND_GIB = 2.0
SYNTHETIC = "synthetic_jpeg64"


def decode_rates(tfds_dir: pathlib.Path, count: int) -> dict:
    """Images/s of PIL and OpenCV on the raw bytes of the first records of each set."""
    import cv2
    import tensorflow_datasets as tfds
    from PIL import Image

    rates = {}
    for name in ("mnist", "celeb_a"):
        builder = tfds.builder(name, data_dir=str(tfds_dir))
        source = builder.as_data_source(
            split="train", decoders={"image": tfds.decode.SkipDecoding()}
        )
        blobs = [source[i]["image"] for i in range(min(count, len(source)))]
        decoders = {
            "pil": lambda b: np.asarray(Image.open(io.BytesIO(b))),
            "opencv": lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED),
        }
        rates[name] = {}
        for label, decode in decoders.items():
            decode(blobs[0])
            t0 = time.perf_counter()
            for _ in range(3):
                for blob in blobs:
                    decode(blob)
            rates[name][f"{label}_images_per_s"] = 3 * len(blobs) / (time.perf_counter() - t0)
        rates[name]["opencv_over_pil"] = (
            rates[name]["opencv_images_per_s"] / rates[name]["pil_images_per_s"]
        )
    return rates


def reading_rate(split, batch_size: int, workers: int, batches: int) -> float:
    """Images/s of the training pipeline over `split` (after its first batches: the workers'
    start-up is not counted)."""
    dataset = pipeline.train_dataset(split, batch_size, seed=0)
    iterator = pipeline.iterate(dataset, workers=workers, prefetch=2)
    for _ in range(3):
        next(iterator)
    t0 = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    rate = batches * batch_size / (time.perf_counter() - t0)
    iterator.close()
    return rate


def step_rate(experiment: str, overrides: list[str], steps: int) -> tuple[float, int]:
    """(images/s, batch size) of the experiment's jitted train step (state donated)."""
    from jaxgen.config import load_config
    from jaxgen.families import build_task

    config = load_config(str(REPO / "experiments" / f"{experiment}.py"), overrides)
    task = build_task(config)
    state = task.init_state(jax.random.key(0))
    batch = jax.tree.map(np.asarray, task.train_dataset(0)[0])
    step = harness.jit_train_step(task, task.train_step)
    key = jax.random.key(1)
    state, _ = step(state, batch, key)
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for _ in range(steps):
        state, _ = step(state, batch, key)
    jax.block_until_ready(state)
    images = len(jax.tree.leaves(batch)[0])
    return steps * images / (time.perf_counter() - t0), images


def pipeline_rates(tfds_dir: pathlib.Path, batches: int, steps: int) -> dict:
    sets = {
        "mnist": ("autoencoder", ("none", 0), []),
        "celeb_a": (
            "dcgan",
            ("center", 64),
            ["preprocess.crop=center", "preprocess.image_size=64", "progress=false"],
        ),
    }
    out = {}
    for name, (experiment, (crop, size), overrides) in sets.items():
        harness.log(f"{name}: the {experiment} train step")
        step_images_per_s, batch_size = step_rate(
            experiment, [f"dataset={name}", *overrides], steps
        )
        streamed = load_split(name, "train", crop, size, 0)
        in_memory = load_split(name, "train", crop, size)
        row = {
            "image_shape": list(streamed.image_shape),
            "train_images": len(streamed),
            "batch_size": batch_size,
            "train_step_experiment": experiment,
            "train_step_images_per_s": step_images_per_s,
            "in_memory_images_per_s": reading_rate(in_memory, batch_size, 0, batches),
        }
        for workers in (0, 1, 2):
            harness.log(f"{name}: streamed, {workers} workers")
            rate = reading_rate(streamed, batch_size, workers, batches)
            row[f"streamed_{workers}_workers_images_per_s"] = rate
            row[f"streamed_{workers}_workers_over_train_step"] = rate / step_images_per_s
        out[name] = row
    return out


def write_synthetic(root: pathlib.Path, count: int) -> float:
    """A TFDS set of `count` 64x64x3 JPEG train images (and count/20 test) in `root`, written
    once; returns the seconds it took (0 when it was there)."""
    import tensorflow_datasets as tfds
    from PIL import Image

    if (root / SYNTHETIC).exists():
        return 0.0
    rng = np.random.default_rng(0)
    # Smooth colour patterns (JPEG-compressible like photographs), shifted per image.
    coarse = rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8)
    bases = [np.asarray(Image.fromarray(c).resize((64, 64), Image.BICUBIC)) for c in coarse]

    def examples(n, offset):
        for i in range(n):
            image = np.roll(bases[(i + offset) % 64], (i * 7 % 64, i * 13 % 64), axis=(0, 1))
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="JPEG", quality=90)
            yield i, {"image": buffer.getvalue()}

    class SyntheticJpeg64(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        name = SYNTHETIC
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            image = tfds.features.Image(shape=(64, 64, 3), encoding_format="jpeg")
            return tfds.core.DatasetInfo(
                builder=self, features=tfds.features.FeaturesDict({"image": image})
            )

        def _split_generators(self, dl_manager):
            return {"train": examples(count, 0), "test": examples(max(count // 20, 1), 1)}

        def _generate_examples(self):
            raise NotImplementedError  # the splits come from _split_generators

    t0 = time.perf_counter()
    SyntheticJpeg64(data_dir=str(root), file_format="array_record").download_and_prepare()
    return time.perf_counter() - t0


def peak_memory(data_dir: pathlib.Path, count: int, workers: int) -> dict:
    """Peak RSS of `jaxgen train` (the dense autoencoder, 30 steps) over the synthetic set."""
    seconds = write_synthetic(data_dir, count)
    with tempfile.TemporaryDirectory() as workdir:
        command = [
            sys.executable,
            "-m",
            "jaxgen",
            "train",
            "--config=experiments/autoencoder.py",
            f"--config.dataset={SYNTHETIC}",
            "--config.steps=30",
            "--config.tsne_points=0",
            "--config.progress=false",
            f"--config.data_workers={workers}",
            f"--workdir={workdir}",
        ]
        env = {**os.environ, "TFDS_DATA_DIR": str(data_dir)}
        t0 = time.perf_counter()
        run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if run.returncode:
        raise SystemExit(f"the training run failed:\n{run.stderr[-3000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child
    peak_gib = peak_kib / 2**20
    return {
        "images": count,
        "image_shape": [64, 64, 3],
        "pixels_gib": count * 64 * 64 * 3 / 2**30,
        "write_seconds": seconds,
        "command": " ".join(command[2:]),
        "data_workers": workers,
        "run_seconds": wall,
        "peak_rss_gib": peak_gib,
        "bound_gib": MEMORY_BOUND_GIB,
        "within_bound": peak_gib < MEMORY_BOUND_GIB,
    }


PARTS = ("memory", "decode", "pipeline")


def main() -> None:
    bench = harness.Benchmark("input_pipeline", __doc__, repeats=(1, 1))
    bench.parser.add_argument("--images", type=int, default=None, help="synthetic set size")
    bench.parser.add_argument("--data-dir", type=pathlib.Path, default=None)
    bench.parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated, of {','.join(PARTS)}"
    )
    args = bench.parse()
    parts = args.parts.split(",")
    quick = args.quick
    images = args.images or (5_000 if quick else 200_000)
    data_dir = args.data_dir or pathlib.Path(tempfile.gettempdir()) / f"jaxgen-bench-{images}"
    payload = {}
    # TFDS prints its progress on stdout: keep stdout for the JSON object alone.
    with contextlib.redirect_stdout(sys.stderr):
        if "memory" in parts:  # first: ru_maxrss of children is the largest child so far
            harness.log(f"memory: {images} synthetic 64x64x3 JPEGs in {data_dir}")
            payload["memory"] = peak_memory(data_dir, images, workers=0)
        if "decode" in parts or "pipeline" in parts:
            payload.update(_reading(parts, quick))
    bench.emit(
        "Images/s from one timed pass after 3 untimed batches; the train step is timed on one "
        "batch repeated.",
        **payload,
    )


def _reading(parts, quick: bool) -> dict:
    import os

    from tests.tfds_formats import write_celeb_a, write_mnist

    out = {}
    with tempfile.TemporaryDirectory() as tfds_dir:
        tfds_dir = pathlib.Path(tfds_dir)
        write_mnist(tfds_dir, train=2_000 if quick else 10_000, test=100)
        write_celeb_a(tfds_dir, per_split=200 if quick else 2_000)
        os.environ["TFDS_DATA_DIR"] = str(tfds_dir)
        clear_caches()
        if "decode" in parts:
            out["decode"] = decode_rates(tfds_dir, 200 if quick else 2_000)
        if "pipeline" in parts:
            out["pipeline"] = pipeline_rates(
                tfds_dir, batches=5 if quick else 40, steps=3 if quick else 10
            )
    return out


if __name__ == "__main__":
    main()
