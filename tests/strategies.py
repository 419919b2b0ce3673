"""Hypothesis strategies: random frameworks the grammar accepts, built directly as ASTs.

Every tree drawn here is one that lowering can produce (a negative literal is a
Num with a `-` text, never Neg of a positive Num; chains have two or more
operands; names are never keywords), so `lower(parse(format(tree))) == tree`
is a fair demand. Numbers carry their written text and the value that text
means, computed here independently of the lowering code.
"""

from __future__ import annotations

import datetime
import re
from fractions import Fraction

from hypothesis import strategies as st
from lark import Token

from kpidsl import nodes as n
from kpidsl.parse import grammar_text, parser
from kpidsl.source import unknown_span

SPAN = unknown_span("<generated>")
KEYWORDS = frozenset(re.findall(r'"([a-z_]+)"', grammar_text()))

_FIRST = "abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZăâđêôơưáàạéèóòúùíìýĐß"
_REST = _FIRST + "0123456789"

# Printable text of any script, with the characters a label must escape; no
# control characters or surrogates (a file with those is refused before parsing).
_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))
label_text = st.text(st.one_of(_CHARS, st.sampled_from('"\\\n\t#{}')), max_size=12)
comment_text = st.text(st.one_of(_CHARS, st.sampled_from('"#{}')), max_size=16).map(
    lambda s: ("#" + s).rstrip())

names = st.builds(lambda a, b: a + b, st.sampled_from(_FIRST), st.text(_REST, max_size=6)).filter(
    lambda s: s not in KEYWORDS)
paths = st.lists(names, min_size=1, max_size=3).map(lambda parts: n.Name(span=SPAN, parts=tuple(parts)))
labels = st.none() | label_text
dates = st.dates(min_value=datetime.date(1000, 1, 1), max_value=datetime.date(9999, 12, 31))
policies = st.sampled_from(["zero", "fail", "renormalise", "skip"])
entities = st.sampled_from(["people", "units"])
comp_ops = st.sampled_from([">=", "<=", "!=", "=", ">", "<"])


def _s(cls, **kw):
    return st.builds(cls, span=st.just(SPAN), **kw)


# ---------------------------------------------------------------- numbers

_unsigned = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,2})?", fullmatch=True)


def _number(text: str) -> n.Num:
    """The Num a written number means: 25% is 1/4, -0.50 is -1/2, 1/3 is one third."""
    body = text.lstrip("-")
    negative = text.startswith("-")
    if body.endswith("%"):
        value, unit = Fraction(body[:-1]) / 100, "percent"
    elif "/" in body:
        top, bottom = body.split("/")
        value, unit = Fraction(top) / Fraction(bottom), "number"
    else:
        value, unit = Fraction(body), "number"
    return n.Num(span=SPAN, value=-value if negative else value, unit=unit, text=text)


plain_numbers = st.builds(lambda t, pct: t + ("%" if pct else ""), _unsigned, st.booleans())
signed = st.builds(lambda neg, t: ("-" if neg else "") + t, st.booleans(), plain_numbers).map(_number)
_fractions = st.builds(lambda a, b: f"{a}/{b}", _unsigned, _unsigned.filter(lambda b: Fraction(b) != 0))
amounts = st.one_of(plain_numbers, _fractions).map(_number)


# ---------------------------------------------------------------- expressions

_leaves = st.one_of(
    signed,
    _s(n.Text, value=label_text),
    _s(n.DateLit, value=dates),
    _s(n.Bool, value=st.booleans()),
    paths,
)


def _folds_into_literal(e: object) -> bool:
    """`-5` lowers to the literal -5, so Neg of a positive literal is not a tree lowering makes."""
    return isinstance(e, n.Num) and not e.text.startswith("-")


@st.composite
def _arith(draw, children):
    operands = draw(st.lists(children, min_size=2, max_size=4))
    ops = draw(st.lists(st.sampled_from(draw(st.sampled_from(["+-", "*/"]))),
                        min_size=len(operands) - 1, max_size=len(operands) - 1))
    return n.Arith(span=SPAN, operands=tuple(operands), ops=tuple(ops))


def _deductions(children):
    return _s(n.Deduction, rate=amounts, per=paths, cap=st.none() | amounts, unless=st.none() | children)


def _extend_expr(children):
    return st.one_of(
        _s(n.Neg, operand=children.filter(lambda e: not _folds_into_literal(e))),
        _s(n.Not, operand=children),
        _arith(children),
        _s(n.BoolOp, op=st.sampled_from(["and", "or"]),
           operands=st.lists(children, min_size=2, max_size=3).map(tuple)),
        _s(n.Compare, left=children, op=comp_ops, right=children),
        _s(n.InList, operand=children, items=st.lists(children, min_size=1, max_size=3).map(tuple)),
        _s(n.IsMissing, operand=children, negated=st.booleans()),
        _s(n.If, cond=children, then=children, otherwise=children),
        _s(n.Call, func=names, args=st.lists(children, min_size=1, max_size=3).map(tuple),
           where=st.none() | children, deduction=st.none() | _deductions(children)),
    )


exprs = st.recursive(_leaves, _extend_expr, max_leaves=10)
cells = st.one_of(
    signed,
    _s(n.Text, value=label_text),
    _s(n.DateLit, value=dates),
    _s(n.Bool, value=st.booleans()),
    _s(n.NoneLit),
    names.map(lambda name: n.Name(span=SPAN, parts=(name,))),
)
literals = st.one_of(signed, _s(n.Text, value=label_text), _s(n.DateLit, value=dates), _s(n.Bool, value=st.booleans()),
                     _s(n.Name, parts=st.tuples(names)))


# ---------------------------------------------------------------- declarations

# A field's bounds use the four ordering comparisons (after a type, `=` starts the
# default); a band's bounds may use any comparison.
field_bounds = _s(n.Bound, op=st.sampled_from([">=", "<=", ">", "<"]), value=signed)
bounds = _s(n.Bound, op=comp_ops, value=signed)


@st.composite
def field_types(draw):
    optional = draw(st.booleans())
    kind = draw(st.sampled_from(["simple", "between", "enum", "ref"]))
    base = draw(st.sampled_from(["text", "number", "integer", "bool", "date"]))
    if kind == "between":
        low, high = draw(signed), draw(signed)
        pair = (n.Bound(span=SPAN, op=">=", value=low), n.Bound(span=SPAN, op="<=", value=high))
        return n.FieldType(span=SPAN, base=base, bounds=pair, between=True, optional=optional)
    if kind == "enum":
        values = draw(st.lists(names, min_size=2, max_size=4))
        return n.FieldType(span=SPAN, base="enum", values=tuple(values), optional=optional)
    if kind == "ref":
        return n.FieldType(span=SPAN, base="ref", ref=draw(names), optional=optional)
    return n.FieldType(span=SPAN, base=base, bounds=tuple(draw(st.lists(field_bounds, max_size=2))), optional=optional)


fields = _s(n.Field, name=names, label=labels, type=field_types(), default=st.none() | literals)
inputs = _s(n.Input, name=names, label=labels, fields=st.lists(fields, max_size=4).map(tuple),
            key=st.none() | names, period_by=st.none() | names, locked=st.booleans())
units_entities = _s(n.UnitsEntity, input=names, parent=st.none() | names)
people_entities = _s(n.PeopleEntity, input=names, member_of=names, leader_when=st.none() | exprs)
measures = _s(n.Measure, name=names, label=labels, entity=entities, expr=exprs,
              missing=st.none() | policies, locked=st.booleans())

_bands = st.one_of(
    _s(n.Band, bounds=st.lists(bounds, min_size=1, max_size=2).map(tuple), points=signed),
    _s(n.Band, bounds=st.just(()), points=signed, is_else=st.just(True)),
)
scale_bodies = st.one_of(
    _s(n.Linear, points=st.lists(_s(n.Point, x=signed, y=signed), min_size=1, max_size=4).map(tuple),
       clamp=st.booleans(), cap=st.none() | signed),
    _s(n.Bands, bands=st.lists(_bands, min_size=1, max_size=4).map(tuple)),
    _s(n.Target, target=signed | paths, cap=st.none() | signed),
    _s(n.Levels, levels=st.lists(_s(n.LevelPoint, level=names, points=signed), min_size=1, max_size=3).map(tuple)),
    _s(n.PassFail, passed=signed, failed=signed),
)
scales = _s(n.Scale, name=names, label=labels, body=scale_bodies, locked=st.booleans())
shares = _s(n.Share, kind=st.sampled_from(["weight", "points"]), amount=amounts)

criteria = _s(n.Criterion, name=names, label=labels, share=st.none() | shares, expr=exprs,
              scale=st.none() | names | scale_bodies, missing=st.none() | policies, locked=st.booleans())
adjustments = _s(n.Adjustment, kind=st.sampled_from(["bonus", "penalty"]), name=names, label=labels, expr=exprs,
                 limit=st.none() | amounts, locked=st.booleans())


def _groups(items):
    return _s(n.Group, name=names, label=labels, share=st.none() | shares, items=items,
              missing=st.none() | policies, locked=st.booleans())


# Groups nest: each level is a list of criteria, adjustments and groups of the level below.
block_items = st.recursive(
    st.lists(criteria | adjustments, max_size=3).map(tuple),
    lambda inner: st.lists(criteria | adjustments | _groups(inner), max_size=3).map(tuple),
    max_leaves=6,
)
scores = _s(n.Score, name=names, label=labels, entity=entities,
            items=st.builds(lambda a, b: a + b, block_items, st.lists(_s(n.UseRating, name=names), max_size=1)
                            .map(tuple)),
            where=st.none() | exprs, total=st.none() | amounts, missing=st.none() | policies,
            locked=st.booleans())
extend_blocks = _s(n.ExtendBlock, target=paths, items=block_items, replace=st.booleans(),
                   share=st.none() | shares, total=st.none() | amounts, missing=st.none() | policies)

rating_items = st.one_of(
    _s(n.Level, name=names, label=labels, when=st.none() | exprs),
    _s(n.Override, level=names, when=exprs),
    _s(n.RatingCap, against=paths, when=st.none() | exprs),
    _s(n.Quota, level=names, at_most=amounts, of=names, per=paths, resolve_by=st.none() | names),
)
ratings = _s(n.Rating, name=names, label=labels, items=st.lists(rating_items, max_size=4).map(tuple),
             locked=st.booleans())
rollups = _s(n.Rollup, name=names, label=labels, entity=entities, per=st.sampled_from(["month", "quarter", "year"]),
             items=st.lists(st.one_of(_s(n.RollupScore, expr=exprs), _s(n.UseRating, name=names),
                                      _s(n.NotEvaluated, when=exprs)), max_size=3).map(tuple),
             locked=st.booleans())


@st.composite
def givens(draw):
    columns = tuple(draw(st.lists(names, min_size=1, max_size=4)))
    rows = draw(st.lists(st.lists(cells, min_size=len(columns), max_size=len(columns)), max_size=3))
    return n.Given(span=SPAN, input=draw(names), columns=columns,
                   rows=tuple(n.Row(span=SPAN, cells=tuple(r)) for r in rows))


test_items = st.one_of(
    _s(n.TestPeriod, period=st.from_regex(r"[0-9]{4}(-Q[1-4]|-[0-9]{2})?", fullmatch=True)),
    givens(),
    _s(n.Expect, entity=st.sampled_from(["person", "unit"]), id=cells, path=paths, value=cells),
    _s(n.ExpectError, message=label_text),
)
tests = _s(n.Test, label=label_text, items=st.lists(test_items, max_size=4).map(tuple))
requires = _s(n.Require, label=labels, constraint=st.one_of(
    _s(n.ShareBetween, kind=st.sampled_from(["weight", "points"]), target=paths, low=amounts, high=amounts),
    _s(n.EveryScaled, within=st.none() | paths),
))

declarations = st.one_of(
    _s(n.Use, path=label_text, alias=st.none() | names),
    _s(n.Extends, target=paths.map(lambda p: p.dotted)),
    requires, inputs, units_entities, people_entities, measures, scales, scores, extend_blocks, ratings,
    rollups, tests,
)

frameworks = _s(
    n.Framework,
    id=paths.map(lambda p: p.dotted),
    title=labels,
    decls=st.lists(declarations, max_size=6).map(tuple),
    version=st.none() | label_text,
    effective=st.none() | dates,
    period=st.none() | st.sampled_from(["month", "quarter", "year"]),
    rounding=st.none() | _s(n.Rounding, places=st.integers(0, 10),
                            mode=st.sampled_from(["half_up", "half_even", "down", "up"])),
)


# ---------------------------------------------------------------- text helpers

def token_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every token of a framework text, exactly as the parser reads them."""
    return [(t.start_pos, t.end_pos) for t in parser().parse_interactive(text).iter_parse()
            if isinstance(t, Token) and t.start_pos is not None]
