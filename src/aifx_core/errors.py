"""Errors that reach the user.

Every failure caused by what the user gave us (a path, a pattern, a mask, an option) is an
:class:`InputError`: one line that names the file or frame and says what to do. The CLI turns it into
exit code 2 with no traceback. Anything else is a bug (exit code 1).
"""

from __future__ import annotations


class AifxError(Exception):
    """Base class of every error aifx raises on purpose."""

    exit_code = 1


class InputError(AifxError):
    """Bad input or usage: the message names the file/frame and the fix (exit code 2)."""

    exit_code = 2


class Cancelled(AifxError):
    """The job was cancelled through its :class:`~aifx_core.progress.CancelToken`.

    Frames finished before the cancel are complete on disk; a rerun resumes after them.
    """

    exit_code = 130
