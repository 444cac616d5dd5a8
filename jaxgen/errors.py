"""The one exception type that means "the user asked for something we cannot do".

The CLI turns it into a single line on stderr and exit status 2; anything else is a bug and keeps
its traceback.
"""


class UserError(Exception):
    """Bad input: unknown dataset, key or preset, a disagreeing workdir, missing data, ..."""


class NonFiniteLossError(UserError):
    """Training produced a NaN or infinite loss; checkpoints written before it are kept."""
