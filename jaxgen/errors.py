"""The exceptions that end a run with one line and no traceback, and the test for a full disk.

`UserError` means "the user asked for something we cannot do", or the machine cannot do it now
(a full disk): the CLI prints it as a single line on stderr with exit status 2. `Interrupted` is
SIGINT or SIGTERM honoured by the training loop: one line and exit status 128 + the signal's
number. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import re
import signal
from collections.abc import Iterator

# ENOSPC: the file system is full; EDQUOT: the user's quota on it is.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# TensorStore, which Orbax writes arrays through, reports the OS error inside its message
# (`... No space left on device [os_error_code='28']`) of a ValueError, not as an OSError.
_OS_ERROR_CODE = re.compile(r"os_error_code='?(\d+)")


class UserError(Exception):
    """Bad input: unknown dataset, key or preset, a disagreeing workdir, missing data, ..."""


class NonFiniteLossError(UserError):
    """Training produced a NaN or infinite loss; checkpoints written before it are kept."""


class DiskFullError(UserError):
    """A write into the workdir failed for want of space or quota; `path` is what was being
    written. The checkpoints committed before it are intact (Orbax commits by renaming)."""

    def __init__(self, message: str, path: pathlib.Path | str):
        super().__init__(message)
        self.path = pathlib.Path(path)
        self.hinted = False  # whether the message says what survives and how to resume


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run; the message says what was saved and how to resume. A
    KeyboardInterrupt, so that `except Exception` does not swallow it."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, the shell's convention: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


def signal_name(signum: int) -> str:
    """The name of a signal's number: SIGINT, SIGTERM, ..."""
    return signal.Signals(signum).name


def _chain(err: BaseException) -> Iterator[BaseException]:
    """`err` and every exception it was raised from or while handling (`__cause__`, then
    `__context__`), each once: Orbax re-raises a worker thread's OSError inside its own."""
    seen, todo = set(), [err]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__context__, current.__cause__]
        if isinstance(current, BaseExceptionGroup):
            todo += list(current.exceptions)


def disk_full_errno(err: BaseException) -> int | None:
    """ENOSPC or EDQUOT if `err`, or any exception in its chain, is an OSError with that errno
    or a TensorStore error naming it (`os_error_code='28'`); otherwise None."""
    for current in _chain(err):
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return current.errno
        for code in _OS_ERROR_CODE.findall(str(current)):
            if int(code) in DISK_FULL_ERRNOS:
                return int(code)
    return None


def _filename(err: BaseException) -> str | None:
    """The file an OSError in `err`'s chain names, if one does (open() sets it; write() not)."""
    for current in _chain(err):
        if isinstance(current, OSError) and current.filename:
            return str(current.filename)
    return None


@contextlib.contextmanager
def writing(path: pathlib.Path | str, what: str | None = None) -> Iterator[None]:
    """Turns a full disk (or quota) met inside the block into a DiskFullError naming the file
    the OS named, else `what` (words for a folder's files: "the figures in DIR"), else `path`;
    every other exception passes unchanged."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as err:
        code = disk_full_errno(err)
        if code is None:
            raise
        where = _filename(err)
        message = f"{os.strerror(code).lower()} writing {where or what or path}"
        raise DiskFullError(message, where or path) from err
