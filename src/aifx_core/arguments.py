"""Which command-line arguments name files or folders, marked where each is added (:func:`path_argument`).

A name's bytes that are not UTF-8 (a folder from a Latin-1 share) are the path checks' to refuse, naming the name
and how to rename it (``check_utf8``); such bytes in any other argument are refused by the CLI as typed text
(``cli._refuse_stray_bytes``). The mark sits on the parser's action, so the CLI reads the paths from the parser
it parsed with: a hand-kept list of ``dest`` names beside the parser could miss a new path option.
"""

from __future__ import annotations

import argparse
from typing import Any

#: An argument that always names a file or folder.
PATH = "path"
#: An argument that names a file or folder, or something by name instead (``--model``: a hub id).
PATH_OR_NAME = "path or name"

_MARK = "aifx_path_kind"


def path_argument(
    parser: argparse.ArgumentParser | Any, *flags: str, kind: str = PATH, **kwargs: Any
) -> argparse.Action:
    """``parser.add_argument(*flags, **kwargs)``, its action marked as naming a path (``kind``)."""
    action = parser.add_argument(*flags, **kwargs)
    setattr(action, _MARK, kind)
    return action


def path_kind(action: argparse.Action) -> str | None:
    """:data:`PATH` or :data:`PATH_OR_NAME` for an action added by :func:`path_argument`; None: text."""
    return getattr(action, _MARK, None)
