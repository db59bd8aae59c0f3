"""Errors that reach the user, and the exit codes that carry them across a process boundary.

Every failure caused by what the user gave us (a path, a pattern, a mask, an option, a job field) is an
:class:`InputError`: one line that names the file, frame or field and says what to do. The CLI turns it into
exit code 2 with no traceback. Anything else is a bug (exit code 1). The exit codes and the ``error`` /
``cancelled`` events (:mod:`.events`) are part of the wire: the adapters and the server read them.
"""

from __future__ import annotations

#: Exit codes of ``aifx``: success, an internal failure (a bug), bad input or usage, cancelled.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_CANCELLED = 130


class AifxError(Exception):
    """Base class of every error aifx raises on purpose."""

    exit_code = EXIT_INTERNAL


class InputError(AifxError):
    """Bad input or usage: the message names the file/frame/field and the fix (exit code 2)."""

    exit_code = EXIT_INPUT


class Cancelled(AifxError):
    """The job was cancelled (a cancel token, SIGTERM from an adapter, Ctrl-C).

    Frames finished before the cancel are complete on disk; a rerun resumes after them.
    """

    exit_code = EXIT_CANCELLED


def error_for_exit_code(code: int, message: str) -> AifxError:
    """The exception a client raises for a worker that ended with ``code`` (the inverse of ``exit_code``)."""
    if code == EXIT_INPUT:
        return InputError(message)
    if code == EXIT_CANCELLED:
        return Cancelled(message)
    return AifxError(message)
