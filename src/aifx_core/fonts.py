"""Fonts for the text the shot-list commands draw: the storyboard's contact sheet and PDF, the previz sheet.

Matplotlib draws with DejaVu Sans alone, which has Latin, Greek and Cyrillic but no Chinese, Japanese or
Korean: a shot named 灯台 drew as empty boxes, and matplotlib warned once per character (dozens of lines on
stderr). The sheets are drawn with a fallback list instead, DejaVu Sans first (so Latin text looks as it always
did), then the families installed on this machine that cover other scripts (matplotlib takes each character
from the first family that has it). Characters none of them has are named in one notice, which says what to
install, and their per-glyph warnings are silenced; any other glyph warning still shows.
"""

from __future__ import annotations

import contextlib
import sys
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from functools import cache

#: The text everything is drawn in first: matplotlib's default, what the sheets always used.
MAIN_FAMILY = "DejaVu Sans"
#: Families that cover other scripts, best first; only the installed ones are used (matplotlib logs a
#: "font family not found" line for each one that is not). STIXGeneral ships with matplotlib: the last resort.
FALLBACK_FAMILIES = (
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Source Han Sans",
    "Noto Sans JP",
    "Noto Sans SC",
    "Noto Sans TC",
    "Noto Sans KR",
    "Hiragino Sans",
    "Hiragino Kaku Gothic ProN",
    "PingFang SC",
    "Apple SD Gothic Neo",
    "Yu Gothic",
    "Meiryo",
    "Microsoft YaHei",
    "Microsoft JhengHei",
    "Malgun Gothic",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "Arial Unicode MS",
    "Noto Sans",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Thai",
    "STIXGeneral",
)
#: Shown at most, in the notice; the rest are counted.
NAMED_AT_MOST = 20


def installed_families(wanted: Iterable[str] = FALLBACK_FAMILIES) -> list[str]:
    """:data:`MAIN_FAMILY`, then those of ``wanted`` installed here, in that order."""
    from matplotlib import font_manager

    here = {entry.name for entry in font_manager.fontManager.ttflist}
    return [MAIN_FAMILY, *(family for family in wanted if family in here and family != MAIN_FAMILY)]


@cache
def _characters(family: str) -> frozenset[int]:
    """The code points ``family``'s regular face has a glyph for (read once per run)."""
    from matplotlib import font_manager

    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    return frozenset(font_manager.get_font(path).get_charmap())


def missing_glyphs(texts: Iterable[str], families: Iterable[str]) -> list[str]:
    """The characters of ``texts`` that none of ``families`` can draw, in order of first use (spaces and
    control characters are not drawn)."""
    drawable = frozenset().union(*(_characters(family) for family in families))
    missing: dict[str, None] = {}
    for text in texts:
        for char in text:
            if ord(char) not in drawable and not char.isspace() and unicodedata.category(char)[0] != "C":
                missing[char] = None
    return list(missing)


def notice(missing: list[str], where: str) -> str:
    """One line naming the characters that show as empty boxes in ``where`` and what to install."""
    shown = " ".join(missing[:NAMED_AT_MOST])
    more = f" and {len(missing) - NAMED_AT_MOST} more" if len(missing) > NAMED_AT_MOST else ""
    return (
        f"aifx: no font on this machine has {shown}{more}; they show as empty boxes in {where} (the file names "
        "keep them): install a font that has them (e.g. Noto Sans CJK, the fonts-noto-cjk package) and run again"
    )


@contextlib.contextmanager
def drawing(texts: Iterable[str], where: str) -> Iterator[None]:
    """Build and save figures holding ``texts`` (every title, name and note drawn) inside this: the fallback
    families are the figures' fonts, characters none of them has are named once on stderr, not warned about
    per glyph, and ``$`` is drawn as typed (matplotlib would read text between two as a formula)."""
    import matplotlib

    families = installed_families()
    missing = missing_glyphs(texts, families)
    if missing:
        print(notice(missing, where), file=sys.stderr)
    # text.parse_math off: a board's text is prose, and "$5 or $6" is not a formula (invalid TeX raised)
    with (
        matplotlib.rc_context({"font.family": families, "text.parse_math": False}),
        warnings.catch_warnings(),
    ):
        for (
            char
        ) in missing:  # the notice said it: matplotlib's message is "Glyph 28783 (...) missing from ..."
            warnings.filterwarnings("ignore", message=rf"Glyph {ord(char)} \(.*\) missing from font")
        yield
