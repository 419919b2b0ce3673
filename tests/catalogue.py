"""The message catalogues: extract every message of kpidsl's outputs, update the .po files, compile the .mo files.

    python tests/catalogue.py update    # after changing a message: new ones get an empty translation
    python tests/catalogue.py compile   # after translating: writes the .mo files kpidsl reads

tests/test_catalogue.py checks that both were done (`make test` fails otherwise).
"""

from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kpidsl"
LOCALE = PACKAGE / "locale"
LANGUAGES = ("en", "vi")
METHODS = [("**/templates/**.j2", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "n_": (1, 2)}
OPTIONS = {"**/templates/**.j2": {"extensions": "jinja2.ext.do", "trimmed": "false"}}


def po_path(code: str) -> Path:
    return LOCALE / code / "LC_MESSAGES" / "kpidsl.po"


def extract() -> Catalog:
    """Every message the code and the templates pass to `_` or `n_`, with where it is used."""
    catalog = Catalog(project="kpidsl", charset="utf-8")
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(PACKAGE), METHODS, options_map=OPTIONS, keywords=KEYWORDS, comment_tags=()):
        catalog.add(message, locations=[(f"kpidsl/{filename}", lineno)])
    return catalog


FIXED_DATE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def read(code: str) -> Catalog:
    with open(po_path(code), "rb") as fh:
        catalog = read_po(fh, locale=code)
    catalog.creation_date = catalog.revision_date = FIXED_DATE  # the .mo holds no clock time
    return catalog


def updated(code: str) -> Catalog:
    """The language's catalogue with exactly the extracted messages, keeping the translations it has."""
    template = extract()
    old = read(code) if po_path(code).exists() else Catalog(locale=code)
    new = Catalog(locale=code, project="kpidsl", charset="utf-8")
    for message in template:
        if not message.id:
            continue
        kept = old.get(message.id)
        string = kept.string if kept is not None else ("" if code != "en" else message.id)
        if code == "en" and not (kept and any(kept.string if isinstance(kept.string, tuple) else [kept.string])):
            string = message.id
        new.add(message.id, string, locations=message.locations)
    return new


def po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=0, sort_output=True, omit_header=True, include_lineno=False)
    return out.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def main(argv: list[str]) -> int:
    if argv[1:] == ["update"]:
        for code in LANGUAGES:
            po_path(code).parent.mkdir(parents=True, exist_ok=True)
            po_path(code).write_bytes(po_bytes(updated(code)))
        return 0
    if argv[1:] == ["compile"]:
        for code in LANGUAGES:
            po_path(code).with_suffix(".mo").write_bytes(mo_bytes(read(code)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
