"""Errors the CLI turns into one clear message and an exit code (no traceback unless --debug)."""

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STRICT = 3
EXIT_INTERRUPTED = 130


class BenchError(Exception):
    """An error the user can act on. `exit_code` follows the CLI contract."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(BenchError):
    """Bad option, bad input file, missing package or device: exit 2, nothing was timed."""


class BackendUnavailable(UsageError):
    """The asked-for backend, device or precision cannot be honoured here."""


class RunFailed(BenchError):
    """The run started but could not finish (a backend raised mid-run, ...): exit 1."""

    exit_code = EXIT_FAILED
