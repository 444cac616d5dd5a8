"""Runs that survive faults (docs/contract.md, "Faults"): a full disk, SIGINT and SIGTERM, a
workdir that cannot be written. Each ends with one line, loses no committed checkpoint, and the
same command then resumes to the fingerprint of an uninterrupted run."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from jaxgen.errors import DiskFullError, Interrupted, UserError, disk_full_errno
from jaxgen.train import loop
from jaxgen.train.checkpoint import committed_steps
from jaxgen.train.logging import MetricWriter
from jaxgen.train.loop import check_writable, train

from ..conftest import REPO, run_cli, smoke_config, summary

ENOSPC = OSError(errno.ENOSPC, "No space left on device")
# The smoke autoencoder at 40 steps: evaluated and checkpointed every 10, logged every 5.
SMOKE_40 = ["--config=experiments/autoencoder.py:smoke", "--config.progress=false"]
SMOKE_40 += ["--config.steps=40"]
# 400 steps with no checkpoint but the last: a signal is the only other reason to save one.
LONG = [
    "--config=experiments/autoencoder.py:smoke",
    "--config.progress=false",
    "--config.steps=400",
    "--config.checkpoint_every=1000",
    "--config.eval_every=400",
    "--config.log_every=1",
]


def _smoke(steps: int = 40, **overrides):
    return smoke_config("autoencoder", progress="false", steps=steps, **overrides)


@pytest.fixture(scope="module")
def fingerprint_40(tmp_path_factory) -> str:
    """The params_fingerprint of the uninterrupted 40-step run."""
    return train(_smoke(), tmp_path_factory.mktemp("straight40"))["params_fingerprint"]


@pytest.fixture(scope="module")
def fingerprint_400(tmp_path_factory) -> str:
    """The params_fingerprint of the uninterrupted 400-step run of LONG."""
    config = _smoke(400, checkpoint_every=1000, eval_every=400, log_every=1)
    return train(config, tmp_path_factory.mktemp("straight400"))["params_fingerprint"]


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_disk_full_is_found_through_orbax_and_tensorstore_wrappers():
    assert disk_full_errno(OSError(errno.ENOSPC, "No space left on device")) == errno.ENOSPC
    assert disk_full_errno(OSError(errno.EDQUOT, "Disk quota exceeded")) == errno.EDQUOT
    try:  # a worker thread's OSError re-raised by Orbax as another type
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as err:
            raise RuntimeError("Event loop is closed") from err
    except RuntimeError as wrapped:
        assert disk_full_errno(wrapped) == errno.ENOSPC
    try:  # ... or raised while handling it (__context__ only)
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError:
            raise ValueError("commit failed") from None
    except ValueError as hidden:
        assert hidden.__cause__ is None and disk_full_errno(hidden) == errno.EDQUOT
    tensorstore = ValueError(
        'RESOURCE_EXHAUSTED: Error writing local file "/w/checkpoints/60.orbax-checkpoint-tmp/'
        "manifest.ocdbt\": Failed to write 115 bytes: No space left on device [os_error_code='28']"
    )
    assert disk_full_errno(tensorstore) == errno.ENOSPC
    assert disk_full_errno(ExceptionGroup("save", [ValueError("x"), ENOSPC])) == errno.ENOSPC
    for other in (OSError(errno.EACCES, "Permission denied"), ValueError("os_error_code='2'")):
        assert disk_full_errno(other) is None


def test_disk_full_while_saving_a_checkpoint_then_resume(tmp_path, monkeypatch, fingerprint_40):
    """The save of step 30 dies of ENOSPC inside Orbax's asyncio machinery, before its commit:
    one DiskFullError naming that step's folder and the intact step 20; the folder cut short
    (and a planted complete-looking but uncommitted one) is never taken for a checkpoint."""
    from orbax.checkpoint._src.path import async_path

    write_text = async_path.write_text

    async def full_at_step_30(path, text):
        if path.parent.name == "30.orbax-checkpoint-tmp":
            raise OSError(errno.ENOSPC, "No space left on device")
        return await write_text(path, text)

    monkeypatch.setattr(async_path, "write_text", full_at_step_30)
    with pytest.raises(DiskFullError) as caught:
        train(_smoke(), tmp_path)
    message = str(caught.value)
    assert "no space left on device writing " in message and "checkpoints/30" in message
    assert "the last complete checkpoint (step 20) is intact" in message
    assert "the same command resumes from it once there is space" in message
    assert "\n" not in message
    ckpts = tmp_path / "checkpoints"
    assert committed_steps(ckpts) == [10, 20] and (ckpts / "30.orbax-checkpoint-tmp").is_dir()
    # A whole checkpoint, commit file included, under a tmp name is not committed either: were
    # it taken for step 35, the run would go on from step 20's state and end elsewhere.
    shutil.copytree(ckpts / "20", ckpts / "35.orbax-checkpoint-tmp")
    assert (ckpts / "35.orbax-checkpoint-tmp" / "commit_success.txt").exists()
    monkeypatch.undo()  # space is freed

    resumed = train(_smoke(), tmp_path)
    assert resumed["params_fingerprint"] == fingerprint_40
    assert not list(ckpts.glob("*.orbax-checkpoint-tmp*")), "tmp folders are cleaned up"


def test_disk_full_while_writing_metrics_then_resume(tmp_path, monkeypatch, fingerprint_40):
    """metrics.jsonl on a full device (/dev/full fails every write with ENOSPC) after step 20."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    write = MetricWriter.write

    def full_after_20(self, step, split, metrics):
        if step > 20:
            self.path = pathlib.Path("/dev/full")
        return write(self, step, split, metrics)

    monkeypatch.setattr(MetricWriter, "write", full_after_20)
    with pytest.raises(DiskFullError) as caught:
        train(_smoke(), tmp_path)
    assert str(caught.value).startswith("no space left on device writing /dev/full; ")
    assert "the last complete checkpoint (step 20) is intact" in str(caught.value)
    monkeypatch.undo()

    assert train(_smoke(), tmp_path)["params_fingerprint"] == fingerprint_40
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
        if '"train"' in line
    ]
    assert steps == sorted(set(steps)) and steps[-1] == 40


def test_workdir_that_is_a_file_or_under_one_is_refused_before_training(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    with pytest.raises(UserError, match="is a file"):
        train(_smoke(), afile)
    bad = run_cli("train", *SMOKE_40, f"--workdir={afile / 'sub'}")
    assert bad.returncode == 2
    line = _one_line(bad.stderr)
    assert f"the workdir {afile / 'sub'} runs through the file {afile}" in line
    assert afile.read_text() == "not a folder"


def test_read_only_workdir_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    """As root (CI), chmod stops no write; the check writes a real probe file, and here that
    write fails as it does on a read-only folder."""

    def refused(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(loop, "_write_probe", refused)
    workdir = tmp_path / "new" / "run"
    with pytest.raises(UserError, match=r"cannot write to the workdir .*\(permission denied\)"):
        train(_smoke(), workdir)
    assert not (tmp_path / "new").exists(), "the folders made for the probe are removed"
    monkeypatch.undo()
    check_writable(workdir)  # the real probe: a writable folder passes, and leaves nothing
    assert not (tmp_path / "new").exists()


def _mount_tmpfs(path: pathlib.Path, options: str) -> None:
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")


@pytest.fixture
def tmpfs(tmp_path):
    """Mounts tmpfs folders under tmp_path (as root; skips where mounting is not permitted)
    and unmounts them afterwards."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mounted = []

    def mount(name: str, options: str) -> pathlib.Path:
        path = tmp_path / name
        _mount_tmpfs(path, options)
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_read_only_mount_is_refused(tmpfs):
    with pytest.raises(UserError, match=r"cannot write to the workdir .*read-only file system"):
        check_writable(tmpfs("ro", "ro,size=64k") / "run")


def test_a_really_full_disk_is_one_line_and_the_run_resumes(tmpfs, fingerprint_40):
    """A 256 KiB tmpfs holds one checkpoint of the smoke autoencoder (about 150 KiB) but not
    two: the real ENOSPC, from TensorStore's threads, is one line; more space, and the same
    command ends with the uninterrupted run's parameters."""
    disk = tmpfs("disk", "size=256k")
    workdir = disk / "run"
    full = run_cli("train", *SMOKE_40, f"--workdir={workdir}")
    assert full.returncode == 2, full.stderr
    line = _one_line(full.stderr)
    kept = committed_steps(workdir / "checkpoints")
    assert kept and kept[-1] < 40, line
    assert re.fullmatch(
        rf"jaxgen: error: no space left on device writing {disk}/\S+; the last complete "
        rf"checkpoint \(step {kept[-1]}\) is intact and the same command resumes from it once "
        "there is space",
        line,
    ), line
    subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
    resumed = run_cli("train", *SMOKE_40, f"--workdir={workdir}")
    assert resumed.returncode == 0, resumed.stderr
    assert summary(workdir)["params_fingerprint"] == fingerprint_40


def _start(args: list[str], workdir: pathlib.Path, script: str | None = None) -> subprocess.Popen:
    """`python -m jaxgen ARGS` (or `python -c SCRIPT ARGS`) in its own process group, once it
    has logged a training step."""
    head = ["-m", "jaxgen"] if script is None else ["-c", script]
    # A job started with SIGINT ignored (a script's background job) passes that on, and a run
    # keeps an ignored signal ignored: while the child starts, this process handles SIGINT.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [sys.executable, *head, *args, f"--workdir={workdir}"],
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.time() + 120
    metrics = workdir / "metrics.jsonl"
    while not (metrics.exists() and metrics.stat().st_size) and proc.poll() is None:
        assert time.time() < deadline, "the run did not start stepping"
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_saves_the_step_and_the_same_command_resumes_exactly(
    tmp_path, signum, fingerprint_400
):
    """SIGTERM to the process (a pre-emption) or SIGINT to its whole group (Ctrl-C): the step
    in flight ends, its checkpoint is committed, one line, exit 128 + signal; then resume."""
    proc = _start(["train", *LONG], tmp_path)
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, stderr
    line = _one_line(stderr)
    name = signal.Signals(signum).name
    match = re.fullmatch(
        rf"jaxgen: {name}: stopped after step (\d+), whose checkpoint is saved in (\S+); the "
        "same command resumes from it",
        line,
    )
    assert match, line
    step = int(match.group(1))
    assert 0 < step < 400 and not (tmp_path / "summary.json").exists()
    assert match.group(2) == str(tmp_path / "checkpoints" / str(step))
    assert committed_steps(tmp_path / "checkpoints") == [step]

    resumed = run_cli("train", *LONG, f"--workdir={tmp_path}")
    assert resumed.returncode == 0, resumed.stderr
    assert summary(tmp_path)["params_fingerprint"] == fingerprint_400


# The first SIGTERM comes during step 10's checkpoint, the second while it is being saved.
SECOND_SIGNAL = """
import os, signal, sys
from jaxgen.cli import main
from jaxgen.train import checkpoint
save = checkpoint.Checkpoints.save
def save_twice_signalled(self, step, *args, **kwargs):
    if step == 10:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
    return save(self, step, *args, **kwargs)
checkpoint.Checkpoints.save = save_twice_signalled
main(sys.argv[1:])
"""


def test_a_second_signal_during_the_save_stops_at_once(tmp_path):
    args = ["train", *LONG[:-3], "--config.checkpoint_every=5", "--config.eval_every=400"]
    proc = _start(args, tmp_path, script=SECOND_SIGNAL)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    line = _one_line(stderr)
    assert line == (
        "jaxgen: second signal (SIGTERM): stopped at once; the last complete checkpoint "
        "(step 5) is intact and the same command resumes from it"
    )
    assert committed_steps(tmp_path / "checkpoints") == [5]


def test_a_signal_while_the_task_is_built_stops_before_training(tmp_path, monkeypatch):
    """The handler only takes note (it never raises into the code it interrupts); the run stops
    once the task is built, before a step, and restores the handlers it replaced."""
    build = loop._Run.__init__

    def build_then_signalled(self, *args, **kwargs):
        build(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(loop._Run, "__init__", build_then_signalled)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught:
        train(_smoke(), tmp_path)
    assert caught.value.exit_status == 143
    assert str(caught.value) == (
        "SIGTERM: stopped before training; no checkpoint was complete yet: the same command "
        "starts the run afresh"
    )
    assert committed_steps(tmp_path / "checkpoints") == []
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_during_a_training_nested_in_the_set_up_stops_it_and_resumes_exactly(
    tmp_path, monkeypatch, fingerprint_40
):
    """A run trained while another is set up (a GAN's feature classifier, by the task's
    `prepare_evaluation`) shares the outer run's handlers: a SIGTERM at its fourth step stops it
    with its own checkpoint at that step, the outer run stops before its first step, the
    handlers are restored, and the same call resumes the nested run to the fingerprint of an
    uninterrupted one."""
    from jaxgen.families.autoencoder.task import AutoencoderTask

    nested_dir, outer_dir = tmp_path / "nested", tmp_path / "outer"
    nested_summaries, outer_steps, signalled = [], [], []

    def prepare(self):
        if self.config.seed == 1:  # the outer run's task
            nested_summaries.append(train(_smoke(), nested_dir))

    monkeypatch.setattr(AutoencoderTask, "prepare_evaluation", prepare, raising=False)
    build_step = loop._Run.step_fn

    def counted_step_fn(self, phase):
        step, calls = build_step(self, phase), []

        def counted(*args):
            if self.workdir == nested_dir:
                calls.append(1)
                if len(calls) == 4 and not signalled:
                    signalled.append(1)
                    os.kill(os.getpid(), signal.SIGTERM)
            else:
                outer_steps.append(1)
            return step(*args)

        return counted

    monkeypatch.setattr(loop._Run, "step_fn", counted_step_fn)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught:
        train(_smoke(seed=1), outer_dir)
    assert str(caught.value) == (
        f"SIGTERM: stopped after step 4, whose checkpoint is saved in "
        f"{nested_dir / 'checkpoints' / '4'}; the same command resumes from it"
    )
    assert committed_steps(nested_dir / "checkpoints") == [4]
    assert committed_steps(outer_dir / "checkpoints") == [] and outer_steps == []
    assert signal.getsignal(signal.SIGTERM) is before and loop._StopSignals._outermost is None

    train(_smoke(seed=1), outer_dir)
    assert nested_summaries[0]["params_fingerprint"] == fingerprint_40
    assert len(outer_steps) == 40


def test_an_image_gan_prepares_its_feature_classifier_before_its_first_step(monkeypatch, tmp_path):
    """The GAN's periodic FID needs the data set's feature classifier: it is loaded (or trained)
    while the run is set up, never inside the first evaluation."""
    import jaxgen.feature_classifier

    class Asked(Exception):
        pass

    def load_classifier(*args, **kwargs):
        raise Asked

    monkeypatch.setattr(jaxgen.feature_classifier, "load_classifier", load_classifier)
    monkeypatch.setattr(loop._Run, "step_fn", lambda *a: pytest.fail("a step ran"))
    with pytest.raises(Asked):
        train(smoke_config("dcgan", progress="false"), tmp_path)
    assert committed_steps(tmp_path / "checkpoints") == []


def test_a_signal_before_a_nested_training_starts_stops_it_before_its_first_step(
    tmp_path, monkeypatch
):
    """The nested run reads the outer run's signal: one that came earlier in the outer run's
    set-up stops the nested run before its first step (it does not train to the end first)."""
    from jaxgen.families.autoencoder.task import AutoencoderTask

    def prepare(self):
        if self.config.seed == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            train(_smoke(), tmp_path / "nested")

    monkeypatch.setattr(AutoencoderTask, "prepare_evaluation", prepare, raising=False)
    monkeypatch.setattr(loop._Run, "step_fn", lambda *a: pytest.fail("a step ran"))
    with pytest.raises(Interrupted) as caught:
        train(_smoke(seed=1), tmp_path / "outer")
    assert str(caught.value) == (
        "SIGTERM: stopped before training; no checkpoint was complete yet: the same command "
        "starts the run afresh"
    )
    assert loop._StopSignals._outermost is None
