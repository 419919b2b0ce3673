"""The message catalogues: every message of the outputs is in each language's catalogue, translated, compiled,
and no text of the templates escapes them."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from catalogue import LANGUAGES, PACKAGE, mo_bytes, po_bytes, po_path, read, updated
from kpidsl.i18n import lang


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_catalogue_holds_exactly_the_messages_of_the_code(code):
    assert po_bytes(updated(code)) == po_path(code).read_bytes(), (
        f"{po_path(code)} is not up to date: run `python tests/catalogue.py update`, translate, then `compile`")


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_message_is_translated(code):
    missing = [m.id for m in read(code) if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])]
    assert not missing, f"untranslated in {code}: {missing}"


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("code", LANGUAGES)
def test_translations_keep_the_placeholders(code):
    for m in read(code):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for s in strings:
            assert _fields(s) == _fields(ids[-1]) | ({"count"} & _fields(ids[0])), (m.id, s)


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_compiled_catalogue_is_the_po_file_compiled(code):
    assert mo_bytes(read(code)) == po_path(code).with_suffix(".mo").read_bytes(), (
        "run `python tests/catalogue.py compile`")


def _template_text(path: Path) -> list[str]:
    """The literal text of a template outside `{{ }}` and `{% %}`, without the markup, the stylesheet and
    the technical words, which must be empty: every word a person reads comes from the catalogue."""
    import jinja2

    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    source = path.read_text(encoding="utf-8")
    # Literal text as it stands, every expression or statement as one NUL character.
    parts, in_code = [], False
    for _line, kind, value in env.lex(source):
        if kind == "data":
            parts.append(value)
            in_code = False
        elif not in_code:
            parts.append("\0")
            in_code = True
    text = "".join(parts)
    found = [value for value in re.findall(r'(?:aria-label|title|alt|placeholder)="([^"]*)"', text)
             if value.replace("\0", "").strip()]
    text = re.sub(r"<style>.*?</style>", "", text, flags=re.S)
    text = re.sub(r"<!DOCTYPE html>|<[^>]*>", " ", text)
    for word in re.split(r"\s+", text):
        word = re.sub(r"&\w+;|kpidsl|sha256|\0|[·–—→:;,.()\-+/]", "", word)
        if word:
            found.append(word)
    return found


def test_no_template_text_escapes_the_catalogue():
    templates = sorted(PACKAGE.rglob("templates/*.j2"))
    assert templates
    for path in templates:
        assert _template_text(path) == [], path


def test_the_check_of_templates_can_fail(tmp_path):
    bad = tmp_path / "bad.j2"
    bad.write_text('<p>{{ _("Score") }}: Total</p><svg aria-label="Chart"></svg>', encoding="utf-8")
    assert _template_text(bad) == ["Chart", "Total"]


def test_languages_write_numbers_and_dates_their_way():
    import datetime

    vi, en = lang("vi"), lang("en")
    assert vi.num("70.40") == "70,40" and en.num("70.40") == "70.40" and vi.num("p1.x") == "p1.x"
    assert vi.date(datetime.date(2025, 12, 4)) == "04/12/2025" and en.date(datetime.date(2025, 12, 4)) == "2025-12-04"
    assert vi.n_("{count} person", "{count} people", 3) == "3 người"
    assert en.n_("{count} person", "{count} people", 1) == "1 person"
    with pytest.raises(ValueError, match="not a language"):
        lang("fr")
