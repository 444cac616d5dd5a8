"""The metric sinks' imports: TensorBoard's events are written without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# A stand-in for an installed PyTorch: importing it leaves a mark in the environment's file.
FAKE_TORCH = """
import os
open(os.environ["TORCH_IMPORTED"], "w").close()
class Tensor:
    pass
"""

WRITE_METRICS = """
import json, os, sys
import numpy as np
from jaxgen.train.logging import MetricWriter
writer = MetricWriter(sys.argv[1])
writer.write(3, "train", {"loss": 0.5})
writer.images(3, "train", {"samples": np.zeros((2, 4, 4, 1))})
marked = os.path.exists(os.environ["TORCH_IMPORTED"])
import torch  # the user's own import afterwards still works
print(json.dumps({"marked": marked, "user_import": hasattr(torch, "Tensor")}))
"""


def _run(code: str, tmp_path, *args: str) -> dict:
    (tmp_path / "fake" / "torch").mkdir(parents=True)
    (tmp_path / "fake" / "torch" / "__init__.py").write_text(FAKE_TORCH)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "fake"), os.environ.get("PYTHONPATH", "")]),
        "TORCH_IMPORTED": str(tmp_path / "torch_imported"),
    }
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_tensorboard_events_are_written_without_importing_an_installed_torch(tmp_path):
    # The control: tensorboardX's package imports torch whenever it can.
    control = "import json, os, tensorboardX\n"
    control += 'print(json.dumps({"marked": os.path.exists(os.environ["TORCH_IMPORTED"])}))'
    assert _run(control, tmp_path / "control") == {"marked": True}
    workdir = tmp_path / "run"
    workdir.mkdir()
    assert _run(WRITE_METRICS, tmp_path, str(workdir)) == {"marked": False, "user_import": True}
    assert len(list(workdir.glob("events.out.tfevents.*"))) == 1
    assert json.loads((workdir / "metrics.jsonl").read_text())["loss"] == 0.5
