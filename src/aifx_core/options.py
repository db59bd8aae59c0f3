"""Backend options as typed dataclasses: one declaration gives the defaults, the checks, the docs and the
resume key.

A backend declares its options as a dataclass (like ``PropagateOptions``) with a ``from_dict(options)``
classmethod. Each field's ``#:`` comment is its one-line doc (``aifx backends`` prints it), and its metadata
says whether it changes pixels (``option(..., pixels=False)`` for ones that only change speed or memory): the
resume key keeps only options that change pixels. :class:`Options` gives a dataclass ``from_dict`` that checks
every value's type from its annotation and calls ``check()`` for ranges, so a bad value fails in
milliseconds, before any frame is read or a model loaded.
"""

from __future__ import annotations

import ast
import inspect
import math
import numbers
import textwrap
from dataclasses import MISSING, Field, field, fields
from typing import Any, TypeVar

from .protocol.errors import InputError

T = TypeVar("T", bound="Options")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def option(default: Any, *, pixels: bool = True) -> Any:
    """A dataclass field with a default; ``pixels=False`` for options that never change the output."""
    return field(default=default, metadata={"pixels": pixels})


def changes_pixels(spec: Field) -> bool:
    return bool(spec.metadata.get("pixels", True))


def option_docs(cls: type) -> dict[str, str]:
    """Each field's ``#:`` comment (the Sphinx convention), read from the class sources (base classes first):
    the docs live beside the fields, nowhere else."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if "__dataclass_fields__" in vars(klass):
            docs.update(_own_docs(klass))
    return docs


def _own_docs(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    docs: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            comment: list[str] = []
            row = node.lineno - 2
            while row >= 0 and lines[row].strip().startswith("#:"):
                comment.insert(0, lines[row].strip()[2:].strip())
                row -= 1
            docs[node.target.id] = " ".join(comment)
    return docs


def defaults(cls: type) -> dict[str, Any]:
    out = {}
    for spec in fields(cls):
        if spec.default is not MISSING:
            out[spec.name] = spec.default
        elif spec.default_factory is not MISSING:
            out[spec.name] = spec.default_factory()
    return out


def unknown_options(names: set[str], known: set[str], owner: str) -> None:
    """An unknown option is an error naming the known ones (a typo is never silently ignored)."""
    unknown = sorted(names - known)
    if unknown:
        raise InputError(
            f"unknown option(s) {', '.join(unknown)} for {owner}; known options: {', '.join(sorted(known))}"
        )


def read_bool(name: str, value: Any, owner: str) -> bool:
    """``value`` as a bool, taking the words a command line or a job gives (``true``/``false``, ``on``/``off``,
    ``yes``/``no``, ``1``/``0``); anything else is an :class:`InputError` naming the option. For options
    read outside an options class (the registry's general ``per_frame``)."""
    return bool(_coerce(name, value, "bool", owner))


def _coerce(name: str, value: Any, annotation: str, owner: str) -> Any:
    kinds = [part.strip() for part in annotation.split("|")]
    if value is None and "None" in kinds:
        return None
    for kind in kinds:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
                return value.strip().lower() in _TRUE  # from a command line: --option vae_tiling=off
        elif kind == "int":  # (a NumPy integer too, as a Python int; never a bool)
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                return int(value)
        elif kind == "float":  # (a NumPy number too)
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
        elif kind == "str":
            if isinstance(value, str):
                return value
        elif kind == "None":
            continue  # None itself was taken above; ``X | None`` checks the value as an X
        else:
            return value  # a type the class converts itself (its from_dict or check)
    wanted = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "a string"}
    words = " or ".join(wanted.get(k, k) for k in kinds if k != "None")
    raise InputError(f"{owner} option {name}={value!r}: expected {words}")


class Options:
    """Mixin for option dataclasses: ``from_dict`` with type checks from the annotations, then ``check()``."""

    #: Shown in errors: ``"diffusers"`` in ``diffusers option steps=0: ...``.
    owner = "backend"

    @classmethod
    def from_dict(cls: type[T], options: dict[str, Any]) -> T:
        """The options this class declares, checked (other keys belong to other backends and are ignored)."""
        values = {}
        for spec in fields(cls):  # type: ignore[arg-type]
            if spec.name in options:
                values[spec.name] = _coerce(spec.name, options[spec.name], str(spec.type), cls.owner)
        result = cls(**values)
        result.check()
        return result

    def check(self) -> None:
        """Ranges and choices; override (raise :class:`InputError` naming the option)."""
