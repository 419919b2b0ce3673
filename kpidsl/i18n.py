"""The language of the outputs meant for people: gettext catalogues (compiled with babel) in Vietnamese and English.

Every word an output shows a person that does not come from the framework or the
data goes through `Lang._` (or `Lang.n_` for counts), so it is in the catalogue
kpidsl/locale/<lang>/LC_MESSAGES/kpidsl.po and its compiled .mo beside it
(tests/test_catalogue.py keeps the two in step and every message translated).
Machine outputs (CSV, Parquet, JSON column names and values) never change with
the language.
"""

from __future__ import annotations

import datetime
import gettext
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "vi")
DEFAULT_LANGUAGE = "en"
DOMAIN = "kpidsl"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@dataclass(frozen=True)
class Lang:
    """One language: its messages, and how it writes numbers and dates for people."""

    code: str
    catalogue: gettext.NullTranslations

    def _(self, message: str, /, **values: Any) -> str:
        text = self.catalogue.gettext(message)
        return text.format(**values) if values else text

    def n_(self, singular: str, plural: str, count: int, /, **values: Any) -> str:
        text = self.catalogue.ngettext(singular, plural, count)
        return text.format(count=count, **values)

    @property
    def decimal_mark(self) -> str:
        return "," if self.code == "vi" else "."

    def num(self, text: Any) -> str:
        """Exact decimal text (`70.40`) as this language writes it (`70,40`); other text unchanged."""
        if text is None:
            return ""
        text = str(text)
        if self.code == "vi" and text[:1] in "-0123456789" and "." in text:
            return text.replace(".", ",")
        return text

    def date(self, value: datetime.date | None) -> str:
        if value is None:
            return ""
        return value.strftime("%d/%m/%Y") if self.code == "vi" else value.isoformat()


def catalogue_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo"


@cache
def lang(code: str | None = None) -> Lang:
    """The language `code` (the default when None); ValueError for one kpidsl does not speak."""
    code = code or DEFAULT_LANGUAGE
    if code not in LANGUAGES:
        raise ValueError(f"{code!r} is not a language of the outputs; choose one of {', '.join(LANGUAGES)}")
    with open(catalogue_path(code), "rb") as fh:  # a missing catalogue is a broken install, never silent English
        return Lang(code, gettext.GNUTranslations(fh))


def language_of(framework: Any, override: str | None = None, frameworks: Any = None) -> Lang:
    """The language asked on the command line, else the framework's `language`, else that of the framework
    it extends (and so on up: a unit frame speaks its central frame's language), else English."""
    seen: set[str] = set()
    current = framework
    while current is not None and not override:
        if getattr(current, "language", None):
            return lang(current.language)
        seen.add(current.id)
        parent = next((getattr(d, "target", None) for d in getattr(current, "decls", ())
                       if type(d).__name__ == "Extends"), None)
        current = (frameworks or {}).get(parent) if parent not in seen else None
    return lang(override or DEFAULT_LANGUAGE)
