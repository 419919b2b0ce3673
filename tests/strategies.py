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

from kpidsl.source import unknown_span
from kpidsl.syntax import nodes as n
from kpidsl.syntax.parser import grammar_text, parser

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


# ---------------------------------------------------------------- frameworks that mostly check clean
# Text over one fixed schema, drawn so that names resolve and types agree: what the engine must then
# compute. Weights and points always add up; the checker still refuses some (a cycle, a missing
# value without a policy), which the properties set aside.

TYPED_SCHEMA = """framework gen.typed "Generated" version "1" period quarter

input units key unit_id {
  unit_id: text
  parent_id: ref units?
  level: number = 1
  region: north | south
}

input people key person_id {
  person_id: text
  unit_id: ref units
  role: staff | deputy | head
  base: number between 0 and 100
  joined: date?
  disciplined: bool = false
}

input tasks key task_id period by due {
  task_id: text
  person_id: ref people
  due: date
  finished: date?
  size: number >= 0 = 1
  errors: integer >= 0 = 0
  waived: bool = false
  kind: small | big
}

units from units parent parent_id
"""

_small = st.integers(0, 9).map(str)
_task_cond = st.sampled_from([
    "size > 1", "kind = big", "finished is missing", "finished <= due", "waived", "errors > 0",
    "not waived and size >= 2", "kind in [small, big]"])
_person_cond = st.sampled_from([
    "base > 50", "role = staff", "role in [deputy, head]", "joined is missing", "disciplined",
    "count(tasks) > 1", "unit.parent is missing", "unit.level >= 2", "unit.region = north",
    "joined < 2024-01-01", "not disciplined", "count(tasks where kind = big) >= 1"])
_unit_cond = st.sampled_from([
    "level > 1", "region = south", "parent is missing", "count(members) > 2", "count(children) = 0",
    "parent.level >= 1", "count(members where role = head) > 0"])


def _aggregates(entity: str):
    if entity == "people":
        return st.one_of(
            st.builds(lambda c: f"count(tasks where {c})", _task_cond),
            st.just("count(tasks)"),
            st.builds(lambda c: f"sum(tasks.size where {c})", _task_cond),
            st.just("sum(tasks.size less 10% per errors at most 50% unless waived)"),
            st.just("mean(tasks.size)"), st.just("max(tasks.size)"), st.just("min(tasks.errors)"),
            st.builds(lambda c: f"share(tasks where {c})", _task_cond),
            st.just("unit.level"), st.just("count(unit.members)"), st.just("unit.score"),
            st.just("count(unit.members.ps0)"), st.just("count(unit.members.ps0 where base > 50)"),
            st.just("count(unit.children)"), st.just("unit.parent.level"), st.just("count(unit.members where base > 50)"))
    return st.one_of(
        st.just("count(members)"), st.just("sum(members.base)"), st.just("mean(members.base)"),
        st.just("count(members.ps0)"), st.just("count(leaders.ps0 where base > 50)"),
        st.just("max(leaders.base)"), st.just("count(children)"), st.just("parent.level"),
        st.just("count(members.unit)"), st.just("sum(members.tasks_n)"), st.just("mean(children.level)"),
        st.just("count(members where unit.parent is missing)"), st.just("count(leaders where tasks_n > 1)"),
        st.just("count(members where count(tasks where size > 1) > 0)"),
        st.builds(lambda c: f"share(members where {c})", st.sampled_from(["base > 50", "role = staff"])))


def _numbers(entity: str, measures: list[str]):
    cond = _person_cond if entity == "people" else _unit_cond
    field = "base" if entity == "people" else "level"
    leaves = st.one_of(_small, st.just(field), _aggregates(entity),
                       *([st.sampled_from(measures)] if measures else []))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(["+", "-", "*", "/"]), inner),
        st.builds(lambda a, b: f"min({a}, {b})", inner, inner),
        st.builds(lambda a, k: f"round({a}, {k})", inner, st.integers(0, 4)),
        st.builds(lambda a: f"abs({a})", inner),
        st.builds(lambda c, a, b: f"(if {c} then {a} else {b})", cond, inner, inner)), max_leaves=4)


_scales = st.sampled_from([
    "", " scored linear 0 -> 0, 100 -> 100 clamp", " scored linear 0 -> 0, 10 -> 100 cap 120",
    " scored bands { >= 50 -> 100  >= 10 -> 50  else -> 0 }", " scored bands { <= 2 -> 100  <= 5 -> 50  else -> 0 }",
    " scored target 20 cap 120", " scored pct"])
_policy = st.sampled_from(["", " missing zero", " missing renormalise", " missing fail"])
_score_policy = st.sampled_from([" missing zero", " missing zero", " missing renormalise", " missing fail"])


@st.composite
def _block(draw, entity: str, measures: list[str], depth: int, counter: list[int],
           points: int | None = 100) -> list[str]:
    """The items of a block whose shares add up: all weights (to 100%) or all points (to `points`)."""
    n_items = draw(st.integers(1, 3))
    weights = points is None or draw(st.booleans())
    whole = 100 if weights else points
    parts = [whole // n_items] * n_items
    parts[-1] += whole - sum(parts)
    lines = []
    for share in parts:
        counter[0] += 1
        name = f"i{counter[0]}"
        amount = f"weight {share}%" if weights else f"points {share}"
        if depth < 2 and draw(st.integers(0, 3)) == 0:
            inner = draw(_block(entity, measures, depth + 1, counter, None if weights else share))
            lines.append(f'group {name} "G" {amount}{draw(_policy)} {{')
            lines.extend("  " + line for line in inner)
            lines.append("}")
            continue
        kind = draw(st.integers(0, 6))
        if kind == 0 and entity == "people":
            expr, scale = "role", " scored levels { staff -> 60  deputy -> 80  head -> 100 }"
        elif kind == 1:
            expr = draw(_person_cond if entity == "people" else _unit_cond)
            scale = " scored pass 100 fail 0"
        else:
            expr, scale = draw(_numbers(entity, measures)), draw(_scales)
        lines.append(f'criterion {name} "C" {amount} = {expr}{scale}{draw(_policy)}')
    for _ in range(draw(st.integers(0, 1))):
        counter[0] += 1
        kind = draw(st.sampled_from(["bonus", "penalty"]))
        lines.append(f'{kind} a{counter[0]} "A" = {draw(_numbers(entity, measures))} at most 5')
    return lines


_levels = st.sampled_from([
    ["top when score >= 80", "mid when score >= 50", "low otherwise"],
    ["top when score >= 80 and count(tasks) > 0", "mid when score >= 50", "low otherwise"],
    ["top when score >= 90", "low otherwise"]])
_people_rating_extras = st.lists(st.sampled_from([
    "override low when disciplined", "cap unit.rating when role in [deputy, head]",
    "quota top at most 50% of all per unit resolve by score", "quota top at most 50% of mid per unit",
    "cap unit.rating", "override mid when unit.rating >= mid and score >= 40",
    "quota top at most 50% of all per unit resolve by tasks_n"]), max_size=2, unique=True)


@st.composite
def typed_frameworks(draw) -> str:
    """A framework over TYPED_SCHEMA with measures, role variants, groups, scales, ratings and a roll-up."""
    out = [TYPED_SCHEMA]
    leader = draw(st.sampled_from(["", " leader when role in [deputy, head]", " leader when base > 90"]))
    out.append(f"people from people member of unit_id{leader}\n")
    out.append("measure tasks_n \"Tasks\" for people = count(tasks)\n")
    people_m: list[str] = ["tasks_n"]
    for i in range(draw(st.integers(0, 3))):
        expr = draw(_numbers("people", people_m))
        out.append(f'measure pm{i} "M" for people = {expr}{draw(st.sampled_from(["", " missing zero", " missing skip"]))}\n')
        people_m.append(f"pm{i}")
    unit_m: list[str] = []
    for i in range(draw(st.integers(0, 2))):
        expr = draw(_numbers("units", unit_m))
        out.append(f'measure um{i} "M" for units = {expr}{draw(st.sampled_from(["", " missing zero"]))}\n')
        unit_m.append(f"um{i}")
    if unit_m and draw(st.booleans()):
        out.append(f'measure from_unit "U" for people = unit.{unit_m[0]} missing zero\n')
        people_m.append("from_unit")
    out.append("scale pct = linear 0 -> 0, 1 -> 100 clamp\n")
    counter = [0]
    variants = draw(st.sampled_from([[""], ["role = staff", ""], ["role = head", "role = deputy", ""],
                                     ["tasks_n > 0", ""], ["unit.score >= 50", ""], ["pm0 is missing", ""]
                                     if "pm0" in people_m else [""]]))
    rated = draw(st.booleans())
    for k, where in enumerate(variants):
        head = f'score ps{k} "P" for people' + (f" where {where}" if where else "") + draw(_score_policy) + " {"
        body = draw(_block("people", people_m, 0, counter))
        if rated:
            body.append("rating pr")
        out.append("\n".join([head, *("  " + line for line in body), "}"]) + "\n")
    unit_items = draw(_block("units", unit_m, 0, counter))
    reads = draw(st.sampled_from(["", "mean(members.score)", "mean(members.ps0.score)", "max(leaders.score)",
                                  "mean(members.ps0.i1)", "sum(members.pm0)" if "pm0" in people_m else "0",
                                  "count(members where rating = top)" if rated else "count(members)"]))
    unit_rated = draw(st.booleans())
    if reads:
        unit_items = [f'criterion members_read "R" points 100 = {reads}{draw(_scales)}']
    out.append("\n".join([f'score us "U" for units{draw(_score_policy)} {{', *("  " + line for line in unit_items),
                          *(["  rating ur"] if unit_rated else []), "}"]) + "\n")
    if unit_rated:
        parent = draw(st.sampled_from(["", "  cap parent.rating\n", "  override low when count(children) > 3\n"]))
        out.append("rating ur {\n  top when score >= 80\n  mid when score >= 50\n  low otherwise\n"
                   + parent + "}\n")
    if rated:
        extras = draw(_people_rating_extras)
        if not unit_rated:
            extras = [e for e in extras if "unit.rating" not in e]
        levels = draw(_levels)
        out.append("rating pr {\n" + "".join(f"  {line}\n" for line in levels + extras) + "}\n")
    unit_year = unit_rated and draw(st.booleans())
    if unit_year:
        out.append('rollup uyear "UY" for units per year {\n  score = mean(periods.score)\n  rating ur\n}\n')
    if draw(st.booleans()):
        rating = "  rating yr\n" if rated else ""
        score = draw(st.sampled_from(["mean(periods.score)", "mean(periods.tasks_n) + max(periods.score)",
                                      "sum(periods.score) / 4", "count(tasks) + mean(periods.score)"]))
        out.append(f'rollup year "Y" for people per year {{\n  score = {score}\n{rating}'
                   f'  not evaluated when count(periods) < 2\n}}\n')
        if rated:
            cap = draw(st.sampled_from(["", "  cap unit.rating\n"])) if unit_year else ""
            out.append("rating yr {\n  top when score >= 80 and count(periods where rating = top) >= 2\n"
                       "  low otherwise\n" + cap + "}\n")
    return "\n".join(out)


# ---------------------------------------------------------------- data for the fixed schema
# Rows valid for TYPED_SCHEMA in 2025-Q3: references resolve, tasks fall due in the quarter, and
# the shapes that trip aggregates are common: the last unit has no members (and some units no
# children), the last person has no tasks, optional values and defaulted ones are often left out.

TYPED_PERIOD = "2025-Q3"
_Q3_DAYS = st.integers(0, 91).map(lambda d: datetime.date(2025, 7, 1) + datetime.timedelta(days=d))
_amounts = st.decimals(min_value=0, max_value=100, places=2).map(lambda d: format(d, "f"))


def _maybe(strategy):
    return st.none() | strategy


@st.composite
def typed_data(draw) -> dict[str, tuple[list[str], list[list[object]]]]:
    """Input -> (columns, rows) for TYPED_SCHEMA: 2-4 units in a tree, 1-5 people, 0-6 tasks."""
    n_units = draw(st.integers(2, 4))
    units = []
    for i in range(n_units):
        parent = None if i == 0 else draw(_maybe(st.sampled_from([f"u{j}" for j in range(i)])))
        units.append([f"u{i}", parent, draw(_maybe(st.sampled_from(["0", "1", "2", "3.5"]))),
                      draw(st.sampled_from(["north", "south"]))])
    staffed = [f"u{i}" for i in range(n_units - 1)]  # the last unit has no members
    people = []
    for i in range(draw(st.integers(1, 5))):
        people.append([f"p{i}", draw(st.sampled_from(staffed)), draw(st.sampled_from(["staff", "deputy", "head"])),
                       draw(_amounts), draw(_maybe(st.sampled_from([datetime.date(2020, 5, 1), datetime.date(2025, 1, 2)]))),
                       draw(_maybe(st.booleans()))])
    busy = [p[0] for p in people[:-1]] or [people[0][0]]  # the last person has no tasks (unless alone)
    tasks = []
    for i in range(draw(st.integers(0, 6))):
        due = draw(_Q3_DAYS)
        tasks.append([f"t{i}", draw(st.sampled_from(busy)), due, draw(_maybe(_Q3_DAYS)),
                      draw(_maybe(st.sampled_from(["0", "1", "2.5", "4"]))), draw(_maybe(st.integers(0, 3))),
                      draw(_maybe(st.booleans())), draw(st.sampled_from(["small", "big"]))])
    return {
        "units": (["unit_id", "parent_id", "level", "region"], units),
        "people": (["person_id", "unit_id", "role", "base", "joined", "disciplined"], people),
        "tasks": (["task_id", "person_id", "due", "finished", "size", "errors", "waived", "kind"], tasks),
    }
