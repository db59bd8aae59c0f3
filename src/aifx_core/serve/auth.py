"""Bearer tokens: who is calling.

The token file has one user per line, ``NAME TOKEN`` or ``NAME sha256:HEX`` (blank lines and ``#`` comments
are ignored). ``aifx serve token add NAME --token-file FILE`` writes the hashed form and prints the token once,
so the file on the server never holds a usable secret. Every check hashes the presented token and compares
it with every stored digest in constant time (:func:`hmac.compare_digest`), so neither a wrong token's length
nor its first differing byte shows in the response time. A user named ``admin`` may see and cancel any job.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..protocol.errors import InputError

ADMIN = "admin"
log = logging.getLogger("aifx.serve")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    name: str

    @property
    def is_admin(self) -> bool:
        return self.name == ADMIN


class TokenFile:
    """The users and their token digests, read from a token file (re-read when the file changes)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, ...] | None = None
        self._entries: list[tuple[str, str]] = []
        self.reload()

    def reload(self) -> None:
        try:
            stat = self.path.stat()  # before the read: a change while it is read is seen next time
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot read the token file ({exc.strerror}); check --token-file"
            ) from None
        self._entries = parse_tokens(read_token_text(self.path, "check --token-file"), self.path)
        self._stamp = _stamp(stat)

    def _refresh(self) -> None:
        """Token rotation without a restart: a changed file is read again before the next check. A file that
        cannot be read or parsed now (mid-rotation, re-saved as UTF-16 by an editor) keeps the last good list
        rather than locking everybody out; the log says why, once per change of the file."""
        try:
            stamp = _stamp(self.path.stat())
        except OSError:
            return
        if stamp != self._stamp:
            try:
                self.reload()
            except InputError as exc:
                self._stamp = stamp  # not again until the file changes again
                log.warning("%s; keeping the users read before", exc)

    def user_for(self, token: str | None) -> User | None:
        """The user whose token this is, or None. Compares against every entry, always, in constant time."""
        self._refresh()
        if not token:
            return None
        presented = digest(token)
        found: str | None = None
        for name, stored in self._entries:
            if hmac.compare_digest(presented, stored) and found is None:
                found = name
        return User(found) if found else None

    @property
    def users(self) -> list[str]:
        return [name for name, _ in self._entries]


def _stamp(stat: os.stat_result) -> tuple[int, ...]:
    """What tells a changed token file: a rotation replaces the file (a new inode, ``aifx serve token add``
    renames one in) with a line of the same length, and on storage whose times count whole seconds (NFS, SMB,
    ext3) the modification time can be the same too."""
    return (stat.st_ino, stat.st_ctime_ns, stat.st_mtime_ns, stat.st_size)


def parse_tokens(text: str, source: Path) -> list[tuple[str, str]]:
    """``[(name, sha256 hex digest)]`` from token-file text; plain tokens are hashed on reading."""
    entries: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not _NAME.match(parts[0]):
            raise InputError(
                f"{source}:{number}: expected 'NAME TOKEN' or 'NAME sha256:HEX'; "
                "make entries with 'aifx serve token add NAME --token-file FILE'"
            )
        name, secret = parts
        if secret.startswith("sha256:"):
            hexdigest = secret[len("sha256:") :].lower()
            if not re.fullmatch(r"[0-9a-f]{64}", hexdigest):
                raise InputError(f"{source}:{number}: sha256: must be followed by 64 hex digits")
            entries.append((name, hexdigest))
        else:
            entries.append((name, digest(secret)))
    return entries


def read_token_text(path: Path, fix: str) -> str:
    """The token file's text, or an :class:`InputError` naming it, what is wrong and ``fix``."""
    try:
        return path.read_text(encoding="utf-8-sig")  # a UTF-8 BOM (Notepad) is fine
    except OSError as exc:
        raise InputError(f"{path}: cannot read the token file ({exc.strerror}); {fix}") from None
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: the token file is not UTF-8 text (saved as UTF-16 'Unicode'?); save it as UTF-8"
        ) from None


def add_token(path: str | os.PathLike[str], name: str) -> str:
    """Make a random token for ``name``, store only its hash in ``path`` (replacing ``name``'s old entry:
    that is how a token is rotated) and return the token, which is shown once."""
    if not _NAME.match(name):
        raise InputError(f"user name {name!r}: use letters, digits and _ . @ - (at most 64)")
    file = Path(path)
    token = secrets.token_urlsafe(32)
    lines = read_token_text(file, "check --token-file").splitlines() if file.exists() else []
    kept = [line for line in lines if not (line.split() and line.split()[0] == name)]
    kept.append(f"{name} sha256:{digest(token)}")
    parse_tokens("\n".join(kept), file)  # never write a file the server would refuse
    tmp = file.with_name(f".{file.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(kept) + "\n")
        os.replace(tmp, file)
    except OSError as exc:
        if tmp.is_file():
            tmp.unlink()
        raise InputError(
            f"{file}: cannot write the token file ({exc.strerror}); give a file in a folder that exists and "
            "that you may write to"
        ) from None
    return token
