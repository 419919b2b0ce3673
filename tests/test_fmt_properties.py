"""Properties of the formatter over generated frameworks and over perturbed example files.

For any tree the grammar can express: the printed text parses and lowers with
no diagnostic, to an equal tree; printing is idempotent; comments added
anywhere between tokens all come back, in order. For the example files:
changing the spacing between tokens (keeping blank lines blank and other gaps
free of blank lines) does not change the formatted result.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies
from conftest import CASES, ROOT
from kpidsl.fmt import format_framework, format_text
from kpidsl.source import SourceFile
from kpidsl.syntax import nodes as n
from kpidsl.syntax.lower import lower
from kpidsl.syntax.parser import parse_source
from strategies import comment_text, frameworks, token_spans
from test_fmt import split_case

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _lower_text(text: str) -> tuple[n.Framework | None, tuple]:
    parsed = parse_source(SourceFile("<generated>", text))
    if parsed.tree is None:
        return None, parsed.diagnostics
    return lower(parsed)


def _comments(fw: n.Framework) -> list[str]:
    return [c.text for c in fw.comments]


def test_every_kind_of_node_is_generated():
    source = Path(strategies.__file__).read_text(encoding="utf-8")
    kinds = [c for c in vars(n).values() if isinstance(c, type) and issubclass(c, n.Node) and c is not n.Node]
    assert len(kinds) > 50
    assert [k.__name__ for k in kinds if f"n.{k.__name__}" not in source] == []


@SETTINGS
@given(frameworks)
def test_printed_framework_lowers_to_the_same_tree(fw):
    text = format_framework(fw)
    again, diagnostics = _lower_text(text)
    assert diagnostics == (), text
    assert again == fw, text
    assert format_framework(again) == text


@SETTINGS
@given(frameworks, st.data())
def test_comments_anywhere_survive_in_order(fw, data):
    text = format_framework(fw)
    tokens = token_spans(text)
    # A gap is the place right after a token (or the start of the file): a comment
    # there either ends the token's line or stands on a line of its own.
    gaps = [0] + [end for _, end in tokens]
    notes = data.draw(st.lists(st.tuples(st.integers(0, len(gaps) - 1), st.booleans(), comment_text),
                               max_size=8))
    notes.sort(key=lambda note: note[0])  # stable: notes in one gap keep their drawn order
    pieces, at = [], 0
    for gap, own_line, comment in notes:
        pieces.append(text[at:gaps[gap]])
        pieces.append(("\n" if own_line or gap == 0 else "  ") + comment + "\n")
        at = gaps[gap]
    commented = "".join(pieces) + text[at:]
    expected = [comment for _, _, comment in notes]

    parsed, diagnostics = _lower_text(commented)
    assert diagnostics == (), commented
    assert parsed == fw
    assert _comments(parsed) == expected

    out = format_framework(parsed)
    again, diagnostics = _lower_text(out)
    assert diagnostics == (), out
    assert again == fw, out
    assert _comments(again) == expected, out
    assert format_framework(again) == out


# ---------------------------------------------------------------- whitespace perturbation

def _examples() -> list[Path]:
    found = sorted((CASES / "fmt").glob("*.kpi")) + sorted((ROOT / "frameworks").rglob("*.kpi"))
    return [p for p in found if format_text(str(p), _source(p))[0] is not None]


def _source(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return split_case(text)[0] if path.parent.name == "fmt" else text


def _perturb(text: str, rnd: random.Random) -> str:
    """The same tokens with other spacing: blank lines stay blank lines, no new ones appear."""
    pieces, at = [], 0
    for start, end in token_spans(text) + [(len(text), len(text))]:
        gap = text[at:start]
        if "#" in gap:
            pieces.append(gap)  # moving a comment to another line would move it to another item
        elif gap.count("\n") >= 2:
            pieces.append(rnd.choice([" ", "\t", ""]) + "\n" * rnd.randint(2, 4) + " " * rnd.randint(0, 6))
        elif gap or rnd.random() < 0.5:
            pieces.append(rnd.choice([" ", "  ", "\t", "\n", " \n    ", "\n\t"]))
        pieces.append(text[start:end])
        at = end
    return "".join(pieces)


EXAMPLES = _examples()


@functools.cache
def _formatted(path: Path) -> str | None:
    return format_text(str(path), _source(path))[0]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32))
def test_spacing_between_tokens_does_not_change_the_result(path, seed):
    original = _source(path)
    expected = _formatted(path)
    perturbed = _perturb(original, random.Random(seed))
    actual, diagnostics = format_text(str(path), perturbed)
    assert diagnostics == []
    assert actual == expected
