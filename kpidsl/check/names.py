"""Checker pass: names — unknown names, fields and levels, and duplicates the resolver cannot see."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic, did_you_mean
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.scope import scope_of
from kpidsl.semantic.types import ENTITIES
from kpidsl.semantic.walk import head_span, name_span, score_items, word_span
from kpidsl.source import Span
from kpidsl.syntax import nodes as n

# Names an entity's expressions already give a meaning to; a measure of that name would hide it.
_RESERVED = {
    "people": ("unit", "score", "rating", "periods"),
    "units": ("members", "leaders", "parent", "children", "score", "rating", "periods"),
}


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    yield from scope_of(ctx).problems.values()
    yield from _inputs(program)
    yield from _entities(program)
    yield from _measures(program)
    yield from _scores(program)
    yield from _ratings(program)
    yield from _rollups(program)
    yield from _tests(program)


def _lead(span: Span, name: str) -> Span:
    """The span of a name written at the start of `span` (a field, a level)."""
    return span.source.span(span.start, span.start + len(name))


def _twice(what: str, span: Span, first: Span, help: str) -> Diagnostic:
    return Diagnostic("KPI021", f"{what} is declared twice", span,
                      notes=(f"first declared at {first.file}:{first.line}:{first.column}",), help=help)


# ---------------------------------------------------------------- inputs and entities

def _inputs(program: Program) -> Iterator[Diagnostic]:
    for inp in program.inputs.values():
        seen: dict[str, n.Field] = {}
        for f in inp.fields:
            if f.name in seen:
                yield _twice(f"field `{f.name}` of input `{inp.name}`", _lead(f.span, f.name), seen[f.name].span,
                             "give each field its own name")
            else:
                seen[f.name] = f
            if f.type.base == "enum":
                values: set[str] = set()
                for value in f.type.values:
                    if value in values:
                        again = word_span(f.type.span, rf"\b({re.escape(value)})\b", _after_first(f.type.span, value))
                        yield Diagnostic("KPI021", f"`{value}` is listed twice in the values of `{f.name}`", again,
                                         help="list each value once")
                    values.add(value)
            if f.type.base == "ref" and f.type.ref not in program.inputs:
                yield Diagnostic("KPI020", f"field `{f.name}` refers to `{f.type.ref}`, which is not an input",
                                 word_span(f.type.span, r"\bref\s+(\w+)"),
                                 help=did_you_mean(f.type.ref or "", program.inputs)
                                 or "`ref` names another input, whose key the column holds")
        head = head_span(inp)
        for option, pattern, column in (("key", r"\bkey\s+(\w+)", inp.key),
                                        ("period by", r"\bperiod\s+by\s+(\w+)", inp.period_by),
                                        ("display", r"\bdisplay\s+(\w+)", inp.display)):
            if column is not None and column not in seen:
                yield Diagnostic("KPI022", f"input `{inp.name}` has no field `{column}` for its `{option}`",
                                 word_span(head, pattern),
                                 help=did_you_mean(column, seen) or f"declare `{column}` among its fields")


def _after_first(span: Span, value: str) -> int:
    """The offset in a span's text just after the first `value`, to find the second from there."""
    text = span.source.text[span.start:span.end]
    first = re.search(rf"\b{re.escape(value)}\b", text)
    return first.end() if first else 0


def _entities(program: Program) -> Iterator[Diagnostic]:
    checks = []
    if program.units is not None:
        checks.append((program.units, "units", program.units.parent, "parent"))
    if program.people is not None:
        checks.append((program.people, "people", program.people.member_of, "member of"))
    for decl, kind, column, option in checks:
        inp = program.inputs.get(decl.input)
        if inp is None:
            yield Diagnostic("KPI020", f"{kind} come from `{decl.input}`, which is not an input",
                             word_span(decl.span, r"\bfrom\s+(\w+)"),
                             help=did_you_mean(decl.input, program.inputs) or f"declare `input {decl.input} {{ ... }}`")
            continue
        fields = [f.name for f in inp.fields]
        if column is not None and column not in fields:
            pattern = r"\bparent\s+(\w+)" if option == "parent" else r"\bmember\s+of\s+(\w+)"
            yield Diagnostic("KPI022", f"input `{inp.name}` has no field `{column}` for `{option}`",
                             word_span(decl.span, pattern),
                             help=did_you_mean(column, fields) or f"declare `{column}: ref ...` in input `{inp.name}`")


def _no_entity(program: Program, entity: str, node: n.Node, what: str) -> Diagnostic | None:
    if entity not in ENTITIES:
        return None
    decl = program.people if entity == "people" else program.units
    if decl is not None:
        return None
    how = "people from INPUT member of COLUMN" if entity == "people" else "units from INPUT"
    return Diagnostic("KPI020", f"{what} is for {entity}, but no `{how}` is declared",
                      word_span(node.span, rf"\bfor\s+({entity})\b"),
                      help=f"declare where {entity} come from, e.g. `{how}`")


# ---------------------------------------------------------------- measures, scores, ratings, rollups

def _measures(program: Program) -> Iterator[Diagnostic]:
    for m in program.measures.values():
        missing = _no_entity(program, m.entity, m, f"measure `{m.name}`")
        if missing is not None:
            yield missing
            continue
        at = name_span(m, "measure", m.name)
        inp = program.entity_input(m.entity)
        field = next((f for f in inp.fields if f.name == m.name), None) if inp else None
        if field is not None:
            yield Diagnostic("KPI021", f"measure `{m.name}` has the same name as a field of input `{inp.name}`",
                             at, notes=(f"the field is declared at {_where(field.span)}",),
                             help="rename the measure; a field and a measure of the same name cannot be told apart")
        elif m.name in program.inputs:
            yield Diagnostic("KPI021", f"measure `{m.name}` has the same name as input `{m.name}`", at,
                             notes=(f"the input is declared at {_where(program.inputs[m.name].span)}",),
                             help="rename the measure")
        elif m.name in _RESERVED.get(m.entity, ()):
            yield Diagnostic("KPI021", f"measure `{m.name}` hides `{m.name}`, which expressions for "
                             f"{m.entity} already use", at, help="rename the measure")


def _where(span: Span) -> str:
    return f"{span.file}:{span.line}:{span.column}"


_ITEM_KEYWORD = {n.Criterion: "criterion", n.Group: "group"}


def _item_kind(item: n.Node) -> str:
    return item.kind if isinstance(item, n.Adjustment) else _ITEM_KEYWORD[type(item)]


def _item_span(item: n.Node) -> Span:
    return name_span(item, _item_kind(item), item.name)


def _scores(program: Program) -> Iterator[Diagnostic]:
    for score in program.scores.values():
        missing = _no_entity(program, score.entity, score, f"score `{score.name}`")
        if missing is not None:
            yield missing
        seen: dict[str, n.Node] = {}
        rating: n.UseRating | None = None
        for item in score_items(score):
            if isinstance(item, n.UseRating):
                at = name_span(item, "rating", item.name)
                if rating is not None:
                    yield Diagnostic("KPI021", f"score `{score.name}` names a rating twice", at,
                                     notes=(f"the first is `{rating.name}` at {_where(rating.span)}",),
                                     help="a score has one rating; remove one of the `rating` lines")
                elif item.name not in program.ratings:
                    yield _no_rating(program, item.name, at)
                rating = rating or item
                continue
            if item.name in seen:
                yield _twice(f"{_item_kind(item)} `{item.name}` of score `{score.name}`", _item_span(item),
                             _item_span(seen[item.name]),
                             "give each criterion, group, bonus and penalty of a score its own name")
            else:
                seen[item.name] = item
            if isinstance(item, n.Criterion) and isinstance(item.scale, str) and item.scale not in program.scales:
                at = word_span(item.scale_span, r"\bscored\s+(\w+)") if item.scale_span else item.span
                yield Diagnostic("KPI020", f"there is no scale `{item.scale}`", at,
                                 help=did_you_mean(item.scale, program.scales) or "declare it with `scale NAME = ...`")


def _no_rating(program: Program, name: str, at: Span) -> Diagnostic:
    return Diagnostic("KPI020", f"there is no rating `{name}`", at,
                      help=did_you_mean(name, program.ratings) or "declare it with `rating NAME { ... }`")


def _ratings(program: Program) -> Iterator[Diagnostic]:
    for rating in program.ratings.values():
        levels: dict[str, n.Level] = {}
        for item in rating.items:
            if isinstance(item, n.Level):
                if item.name in levels:
                    yield _twice(f"level `{item.name}` of rating `{rating.name}`", _lead(item.span, item.name),
                                 levels[item.name].span, "give each level its own name")
                else:
                    levels[item.name] = item
        for item in rating.items:
            if isinstance(item, n.Quota) and item.resolve_by not in (None, "score", *program.measures):
                yield Diagnostic("KPI020", f"a quota is resolved by `score` or a measure, not `{item.resolve_by}`",
                                 word_span(item.span, r"\bresolve\s+by\s+(\w+)"),
                                 help=did_you_mean(item.resolve_by, ["score", *program.measures])
                                 or "write `resolve by score`: the highest score keeps the level")
            if isinstance(item, n.Override) and item.level not in levels:
                yield Diagnostic("KPI023", f"rating `{rating.name}` has no level `{item.level}`",
                                 name_span(item, "override", item.level),
                                 help=did_you_mean(item.level, levels) or "its levels are: " + ", ".join(levels))


def _rollups(program: Program) -> Iterator[Diagnostic]:
    for rollup in program.rollups.values():
        missing = _no_entity(program, rollup.entity, rollup, f"rollup `{rollup.name}`")
        if missing is not None:
            yield missing
        scores = [i for i in rollup.items if isinstance(i, n.RollupScore)]
        for extra in scores[1:]:
            yield Diagnostic("KPI021", f"rollup `{rollup.name}` gives its score twice",
                             extra.span.source.span(extra.span.start, extra.span.start + len("score")),
                             notes=(f"the first is at {_where(scores[0].span)}",), help="keep one `score = ...` line")
        ratings = [i for i in rollup.items if isinstance(i, n.UseRating)]
        for item in ratings:
            at = name_span(item, "rating", item.name)
            if item is not ratings[0]:
                yield Diagnostic("KPI021", f"rollup `{rollup.name}` names a rating twice", at,
                                 help="a rollup has one rating; remove one of the `rating` lines")
            elif item.name not in program.ratings:
                yield _no_rating(program, item.name, at)


# ---------------------------------------------------------------- tests

def _tests(program: Program) -> Iterator[Diagnostic]:
    for test in program.tests:
        for item in test.items:
            if isinstance(item, n.Given):
                yield from _given(program, item)


def _given(program: Program, given: n.Given) -> Iterator[Diagnostic]:
    inp = program.inputs.get(given.input)
    if inp is None:
        yield Diagnostic("KPI020", f"there is no input `{given.input}`", word_span(given.span, r"\bgiven\s+(\w+)"),
                         help=did_you_mean(given.input, program.inputs) or "`given` names an input of the framework")
        return
    fields = [f.name for f in inp.fields]
    span = given.span
    text = span.source.text[span.start:span.end]
    pos = text.find("[")
    seen: set[str] = set()
    for column in given.columns:
        found = re.search(rf"\b{re.escape(column)}\b", text[pos:]) if pos >= 0 else None
        at = span.source.span(span.start + pos + found.start(), span.start + pos + found.end()) if found else span
        if found:
            pos += found.end()
        if column in seen:
            yield Diagnostic("KPI021", f"column `{column}` is listed twice", at, help="list each column once")
        elif column not in fields:
            yield Diagnostic("KPI022", f"input `{inp.name}` has no field `{column}`", at,
                             help=did_you_mean(column, fields) or "its fields are: " + ", ".join(fields))
        seen.add(column)
