"""One of several JAX processes on this machine (gloo collectives): trains the autoencoder smoke
config into $JAXGEN_TEST_WORKDIR/multi. Usage: multiprocess_worker.py PROCESS_ID COUNT PORT."""

import os
import pathlib
import sys

import jax

process_id, count, port = (int(a) for a in sys.argv[1:4])
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"localhost:{port}", num_processes=count, process_id=process_id)

from jaxgen.config import load_config  # noqa: E402
from jaxgen.train.loop import train  # noqa: E402

repo = pathlib.Path(__file__).resolve().parents[2]
config = load_config(f"{repo}/experiments/autoencoder.py:smoke", ["progress=false"])
train(config, pathlib.Path(os.environ["JAXGEN_TEST_WORKDIR"]) / "multi")
