"""Checker pass: types — operands, conditions, criterion values, function calls, field defaults."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic, did_you_mean
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.scope import scope_of
from kpidsl.semantic.types import FUNCTIONS, Analysis, Site, Type, describe, field_type
from kpidsl.semantic.walk import children, head_span, score_items, text_of, walk, word_span
from kpidsl.sql.decimal import SCALE as MAX_PLACES
from kpidsl.syntax import nodes as n

_ORDERED = ("<", "<=", ">", ">=")
_HOLDS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq,
          "!=": operator.ne}


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    scope = scope_of(ctx)
    for site in scope.sites:
        yield from _site(scope, site)
        yield from _columns(scope, site)
        for node in walk(site.expr):
            yield from _node(scope, node)
    yield from _fields(program)
    yield from _shares(program)
    yield from _entity_columns(program)


def _bad(t: Type, *kinds: str) -> bool:
    """True when a known type is none of `kinds` ("numeric" = number or integer)."""
    t = t.scalar()
    if t.kind == "unknown":
        return False
    return not (t.kind in kinds or ("numeric" in kinds and t.numeric))


def _err(message: str, node: n.Node, help: str) -> Diagnostic:
    return Diagnostic("KPI030", message, node.span, help=help)


def _as_condition(e: n.Node, t: Type) -> str:
    text = text_of(e, 40)
    t = t.scalar()
    if t.kind == "enum" and t.values:
        return f"compare it with a value, e.g. `{text} = {t.values[0]}`"
    if t.kind in ("date", "text", "ref"):
        return f"test whether it is given, e.g. `{text} is not missing`"
    if t.numeric:
        return f"compare it, e.g. `{text} > 0`"
    return "write a comparison such as `x > 0` or `kind = planned`"


# ---------------------------------------------------------------- expression roots

def _site(scope: Analysis, site: Site) -> Iterator[Diagnostic]:
    e = site.expr
    t = scope.type_of(e)
    text = text_of(e)
    whom = "person" if site.entity == "people" else "unit"
    if site.role == "measure":
        if t.kind in ("collection", "column", "entity", "narrow"):
            how = {"collection": f"count its rows, e.g. `count({text})`",
                   "column": f"aggregate it, e.g. `sum({text})`"}.get(t.kind,
                                                                      f"name one of its values, e.g. `{text}.score`")
            yield _err(f"{site.what} must be one value for each {whom}, but `{text}` is {describe(t)}", e, how)
    elif site.role == "criterion":
        yield from _criterion(scope, site, t)
    elif site.role in ("adjustment", "rollup_score", "target"):
        if _bad(t, "numeric") or t.kind == "column":
            yield _err(f"{site.what} must be a number, but `{text}` is {describe(t)}", e,
                       "turn a condition into points with `if ... then 5 else 0`" if t.kind == "bool"
                       else "compute a number from it")
    elif site.role == "condition":
        if _bad(t, "bool"):
            yield _err(f"{site.what} must be true or false, but `{text}` is {describe(t)}", e, _as_condition(e, t))
    elif site.role == "cap":
        if _bad(t, "level") or t.kind == "column":
            yield _err(f"a rating cap names another rating, but `{text}` is {describe(t)}", e,
                       "cap against a related rating, e.g. `cap unit.rating`")
    elif site.role == "per" and (_bad(t, "entity", "enum", "text", "ref", "integer", "bool") or t.kind == "column"):
        yield _err(f"{site.what} must name a group such as `unit` or a field, but `{text}` is {describe(t)}",
                   e, "write `per unit` to count each unit's people apart")


def _criterion(scope: Analysis, site: Site, t: Type) -> Iterator[Diagnostic]:
    e, scale, text = site.expr, site.scale, text_of(site.expr)
    if isinstance(scale, n.PassFail):
        if _bad(t, "bool") or t.kind == "column":
            yield _err(f"{site.what} is scored pass/fail, so its value must be true or false, but `{text}` is "
                       f"{describe(t)}", e, _as_condition(e, t))
    elif isinstance(scale, n.Levels):
        if _bad(t, "enum", "level") or t.kind == "column":
            yield _err(f"{site.what} is scored by levels, so its value must be one of a field's values or a "
                       f"rating level, but `{text}` is {describe(t)}", e,
                       "score a number with a `linear`, `bands` or `target` scale")
            return
        values = t.scalar()
        if values.kind == "unknown":
            return
        for point in scale.levels:
            if point.level not in values.values:
                code = "KPI023" if values.kind == "level" else "KPI020"
                of = f"rating `{values.owner}`" if values.kind == "level" else f"`{values.owner}`"
                yield Diagnostic(code, f"the scale of {site.what} gives points to `{point.level}`, which is not "
                                 f"a {'level' if values.kind == 'level' else 'value'} of {of}",
                                 point.span.source.span(point.span.start, point.span.start + len(point.level)),
                                 help=did_you_mean(point.level, values.values)
                                 or f"{of} is one of: " + ", ".join(values.values))
    elif _bad(t, "numeric") or t.kind == "column":
        kind = t.scalar().kind
        if scale is None:
            message = f"{site.what} has no scale, so its value must be a number, but `{text}` is {describe(t)}"
        else:
            message = f"{site.what} is scored by a scale for numbers, but `{text}` is {describe(t)}"
        if kind == "bool":
            help_line = "score a true/false value with `scored pass 100 fail 0`"
        elif kind in ("enum", "level"):
            help_line = "score it with `scored levels { ... }`, one line per value"
        elif t.kind in ("collection", "column"):
            help_line = "aggregate it, e.g. `count(...)` or `sum(...)`"
        else:
            help_line = "compute a number from it"
        yield _err(message, e, help_line)


# ---------------------------------------------------------------- one node

def _columns(scope: Analysis, site: Site) -> Iterator[Diagnostic]:
    """A collection or column used where one value is needed, outside the aggregate that would reduce it."""
    stack: list[tuple[n.Node, bool]] = [(site.expr, False)]
    while stack:
        e, in_aggregate = stack.pop()
        if isinstance(e, n.Call):
            # An unknown function or a wrong number of arguments is reported apart: do not pile on.
            reduces = e.func not in FUNCTIONS or e.func in ("count", "sum", "mean", "share") or (
                e.func in ("min", "max") and len(e.args) == 1)
            for i, child in enumerate(children(e)):
                stack.append((child, in_aggregate or (reduces and i < len(e.args))))
            continue
        stack.extend((child, in_aggregate) for child in children(e))
        if not isinstance(e, n.Name) or in_aggregate or (e is site.expr and site.role != "condition"):
            continue
        t = scope.type_of(e)
        if t.kind in ("column", "collection"):
            how = "sum(...)" if t.kind == "column" else "count(...)"
            yield _err(f"`{text_of(e)}` is {describe(t)}, not a single value", e,
                       f"reduce it to one value with an aggregate such as `{how}` or `mean(...)`")


def _node(scope: Analysis, e: n.Node) -> Iterator[Diagnostic]:
    ty = scope.type_of
    if isinstance(e, n.Arith):
        for i, operand in enumerate(e.operands):
            t = ty(operand)
            if _bad(t, "numeric"):
                op = e.ops[max(0, i - 1)]
                yield _err(f"`{text_of(operand)}` is {describe(t)}; `{op}` needs numbers", operand, _arith_help(t))
    elif isinstance(e, n.Neg):
        if _bad(ty(e.operand), "numeric"):
            yield _err(f"`{text_of(e.operand)}` is {describe(ty(e.operand))}; `-` needs a number", e.operand,
                       _arith_help(ty(e.operand)))
    elif isinstance(e, (n.Not, n.BoolOp)):
        word = "not" if isinstance(e, n.Not) else e.op
        for operand in ([e.operand] if isinstance(e, n.Not) else e.operands):
            if _bad(ty(operand), "bool"):
                yield _err(f"`{text_of(operand)}` is {describe(ty(operand))}; `{word}` needs true or false",
                           operand, _as_condition(operand, ty(operand)))
    elif isinstance(e, n.Compare):
        yield from _compare(scope, e.left, e.op, e.right, e)
    elif isinstance(e, n.InList):
        for item in e.items:
            yield from _compare(scope, e.operand, "in", item, item)
    elif isinstance(e, n.If):
        if _bad(ty(e.cond), "bool"):
            yield _err(f"the condition of `if` must be true or false, but `{text_of(e.cond)}` is "
                       f"{describe(ty(e.cond))}", e.cond, _as_condition(e.cond, ty(e.cond)))
        a, b = ty(e.then), ty(e.otherwise)
        if not _compatible(a, b):
            yield _err(f"the two branches of `if` do not agree: `{text_of(e.then)}` is {describe(a)} and "
                       f"`{text_of(e.otherwise)}` is {describe(b)}", e.otherwise,
                       "give both branches values of the same kind")
    elif isinstance(e, n.Call):
        yield from _call(scope, e)


def _arith_help(t: Type) -> str:
    kind = t.scalar().kind
    if kind == "bool":
        return "turn a condition into a number with `if ... then 1 else 0`"
    if kind == "date":
        return "dates can be compared (`finished <= due`) but not added, subtracted or multiplied"
    if kind in ("collection", "column"):
        return "aggregate the collection first, e.g. `count(...)` or `sum(...)`"
    return "arithmetic works on numbers only"


def _compatible(a: Type, b: Type) -> bool:
    a, b = a.scalar(), b.scalar()
    if "unknown" in (a.kind, b.kind) or (a.numeric and b.numeric):
        return True
    if a.kind == b.kind == "enum":
        return bool(set(a.values) & set(b.values))
    if a.kind == b.kind and a.kind in ("date", "bool", "level", "text", "ref"):
        return True
    kinds = {a.kind, b.kind}
    # Keys are text; a string may name an enum value (checked apart).
    return kinds <= {"text", "ref"} or kinds == {"enum", "text"}


def _compare(scope: Analysis, left: n.Node, op: str, right: n.Node, at: n.Node) -> Iterator[Diagnostic]:
    lt, rt = scope.type_of(left).scalar(), scope.type_of(right).scalar()
    if not _compatible(lt, rt):
        if lt.kind == rt.kind == "enum":
            value = right if isinstance(right, n.Name) and len(right.parts) == 1 else None
            if value is not None and scope.refs.get(id(value)) and scope.refs[id(value)].sym.kind == "enum_value":
                yield _err(f"`{value.parts[0]}` is a value of `{rt.owner}`, but `{text_of(left)}` is "
                           f"{describe(lt)}", right, did_you_mean(value.parts[0], lt.values)
                           or f"compare `{text_of(left)}` with one of: " + ", ".join(lt.values))
                return
        yield _err(f"`{text_of(left)}` is {describe(lt)} and `{text_of(right)}` is {describe(rt)}; "
                   "they cannot be compared", at, _compare_help(lt, rt))
        return
    for side, other in ((left, rt), (right, lt)):
        if isinstance(side, n.Text) and other.kind == "enum" and side.value not in other.values:
            yield _err(f"\"{side.value}\" is not a value of `{other.owner}`", side,
                       did_you_mean(side.value, other.values)
                       or f"`{other.owner}` is one of: " + ", ".join(other.values))
    if op in _ORDERED:
        for side, t in ((left, lt), (right, rt)):
            if t.kind in ("enum", "bool", "text", "ref"):
                yield _err(f"`{text_of(side)}` is {describe(t)}, which has no order; `{op}` needs numbers, dates "
                           "or rating levels", side, "use `=`, `!=` or `in [...]`")
                return


def _compare_help(a: Type, b: Type) -> str:
    kinds = {a.kind, b.kind}
    if "date" in kinds:
        return "compare a date with another date, e.g. `finished <= due` or `finished <= 2025-09-30`"
    if "level" in kinds:
        return "compare a rating with one of its levels, e.g. `rating >= good`"
    if "enum" in kinds:
        values = a.values if a.kind == "enum" else b.values
        return "compare it with one of its values: " + ", ".join(values)
    return "compare values of the same kind"


# ---------------------------------------------------------------- calls

def _call(scope: Analysis, e: n.Call) -> Iterator[Diagnostic]:
    func, args = e.func, e.args
    name_at = e.span.source.span(e.span.start, e.span.start + len(func))
    if func not in FUNCTIONS:
        yield Diagnostic("KPI033", f"unknown function `{func}`", name_at,
                         help=did_you_mean(func, FUNCTIONS) or "functions are: " + ", ".join(FUNCTIONS))
        return
    aggregate = func in ("count", "sum", "mean", "share") or (func in ("min", "max") and len(args) == 1)
    if func in ("count", "sum", "mean", "share") and len(args) != 1:
        yield Diagnostic("KPI033", f"`{func}` takes one collection, but {len(args)} arguments are given", e.span,
                         help=f"e.g. `{func}(tasks{'.coefficient' if func in ('sum', 'mean') else ''})`")
        return
    if func == "round" and len(args) != 2:
        yield Diagnostic("KPI033", f"`round` takes a value and a number of places, but {len(args)} "
                         f"argument{'s are' if len(args) != 1 else ' is'} given", e.span, help="e.g. `round(x, 2)`")
        return
    if func == "abs" and len(args) != 1:
        yield Diagnostic("KPI033", f"`abs` takes one value, but {len(args)} arguments are given", e.span,
                         help="e.g. `abs(x - y)`")
        return
    if not aggregate and e.where is not None:
        yield Diagnostic("KPI033", f"`{func}` of single values does not take `where`", e.where.span,
                         help="`where` filters the rows of an aggregate such as `count(tasks where ...)`")
    if e.deduction is not None and func != "sum":
        yield Diagnostic("KPI033", f"`{func}` does not take a deduction; only `sum` does", e.deduction.span,
                         help="write `sum(tasks.coefficient less 25% per errors)`")
    if func == "share" and e.where is None:
        yield Diagnostic("KPI033", "`share` needs a `where` condition: the share of rows that meet it", e.span,
                         help="e.g. `share(tasks where finished <= due)`")
    if aggregate:
        yield from _aggregate(scope, e)
    else:
        yield from _scalar_call(scope, e)


def _aggregate(scope: Analysis, e: n.Call) -> Iterator[Diagnostic]:
    func, arg = e.func, e.args[0]
    t, text = scope.type_of(arg), text_of(arg)
    if func in ("count", "share"):
        if t.kind not in ("collection", "column", "unknown"):
            yield _err(f"`{func}` counts the rows of a collection, but `{text}` is {describe(t)}", arg,
                       "name a collection, e.g. `tasks` or `members`")
        elif t.kind == "column" and t.elem is not None and t.elem.kind in ("collection", "column"):
            yield _err(f"`{func}` counts the rows of a collection, but `{text}` is {describe(t)}", arg,
                       "count them in a measure of each row and add those up, e.g. "
                       "`measure n_tasks for people = count(tasks)` and `sum(members.n_tasks)`")
    elif t.kind == "collection":
        yield _err(f"`{func}` needs a column of numbers, but `{text}` is {describe(t)}", arg,
                   f"name a column of it, e.g. `{func}({text}.FIELD)`")
    elif t.kind == "column":
        if _bad(t.elem or t, "numeric", *(("date",) if func in ("min", "max") else ())):
            yield _err(f"`{func}` needs numbers, but `{text}` is {describe(t)}", arg,
                       "name a column of numbers")
    elif t.kind != "unknown":
        yield _err(f"`{func}` works over a collection, but `{text}` is {describe(t)}", arg,
                   "name a collection's column, e.g. `sum(tasks.coefficient)`"
                   + ("; for single values write `min(a, b)`" if func in ("min", "max") else ""))
    if e.where is not None and _bad(scope.type_of(e.where), "bool"):
        yield _err(f"the `where` of `{func}` must be true or false, but `{text_of(e.where)}` is "
                   f"{describe(scope.type_of(e.where))}", e.where, _as_condition(e.where, scope.type_of(e.where)))
    d = e.deduction
    if d is not None:
        if _bad(scope.type_of(d.per), "numeric"):
            yield _err(f"a deduction counts `per` a number, but `{text_of(d.per)}` is {describe(scope.type_of(d.per))}",
                       d.per, "name a column of counts, e.g. `per errors`")
        unless = scope.type_of(d.unless) if d.unless is not None else None
        if unless is not None and _bad(unless, "bool"):
            yield _err(f"`unless` must be true or false, but `{text_of(d.unless)}` is {describe(unless)}", d.unless,
                       _as_condition(d.unless, unless))


def _scalar_call(scope: Analysis, e: n.Call) -> Iterator[Diagnostic]:
    func = e.func
    first = None
    for i, arg in enumerate(e.args):
        t = scope.type_of(arg)
        if func == "round" and i == 1:
            if not (isinstance(arg, n.Num) and arg.value.denominator == 1 and arg.unit == "number" and arg.value >= 0):
                yield _err(f"the places of `round` must be a whole number such as 2, but `{text_of(arg)}` is not",
                           arg, "e.g. `round(x, 2)`")
            elif arg.value > MAX_PLACES:
                yield Diagnostic("KPI032", f"`round` to {arg.value} places: values are kept to {MAX_PLACES} "
                                 "places, so there is nothing more to round", arg.span,
                                 help=f"round to {MAX_PLACES} places or fewer, e.g. `round(x, 2)`")
            continue
        allowed = ("numeric", "date") if func in ("min", "max") else ("numeric",)
        if t.kind in ("column", "collection"):
            continue  # reported by _columns
        if _bad(t, *allowed):
            yield _err(f"`{func}` needs {'numbers or dates' if 'date' in allowed else 'numbers'}, but "
                       f"`{text_of(arg)}` is {describe(t)}", arg, "pass numbers")
        elif first is None and t.kind != "unknown":
            first = (arg, t)
        elif first is not None and not _compatible(first[1], t):
            yield _err(f"`{func}` mixes `{text_of(first[0])}` ({describe(first[1])}) with `{text_of(arg)}` "
                       f"({describe(t)})", arg, "pass values of one kind")


# ---------------------------------------------------------------- declarations

def _fields(program: Program) -> Iterator[Diagnostic]:
    for inp in program.inputs.values():
        for f in inp.fields:
            ft = f.type
            if ft.bounds and ft.base not in ("number", "integer"):
                yield _err(f"field `{f.name}` is {describe(field_type(f))}; bounds apply to numbers only",
                           ft.bounds[0], "remove the bound")
            elif ft.between and len(ft.bounds) == 2 and ft.bounds[0].value.value > ft.bounds[1].value.value:
                yield _err(f"the range of `{f.name}` is empty: {ft.bounds[0].value.text} is above "
                           f"{ft.bounds[1].value.text}", ft, "write the smaller number first")
            if f.default is not None:
                yield from _default(f)


def _default(f: n.Field) -> Iterator[Diagnostic]:
    d, ft = f.default, f.type
    want = describe(field_type(f))
    fits = {"text": n.Text, "ref": n.Text, "enum": (n.Text, n.Name), "number": n.Num, "integer": n.Num, "bool": n.Bool,
            "date": n.DateLit}.get(ft.base)
    if fits is not None and not isinstance(d, fits):
        yield _err(f"the default of `{f.name}` must be {want}, but `{text_of(d)}` is not", d,
                   f"give a default that is {want}, or none")
        return
    if ft.base == "enum" and n.enum_default(d) not in ft.values:
        yield _err(f"the default of `{f.name}` must be one of its values, but `{n.enum_default(d)}` is not", d,
                   did_you_mean(n.enum_default(d), ft.values) or f"`{f.name}` is one of: " + ", ".join(ft.values))
    if isinstance(d, n.Num):
        if ft.base == "integer" and d.value.denominator != 1:
            yield _err(f"the default of `{f.name}` must be a whole number, but `{text_of(d)}` is not", d,
                       "give a whole number")
        for bound in ft.bounds:
            if not _HOLDS[bound.op](d.value, bound.value.value):
                allowed = (f"between {ft.bounds[0].value.text} and {ft.bounds[1].value.text}" if ft.between
                           else f"{bound.op} {bound.value.text}")
                yield _err(f"the default {text_of(d)} of `{f.name}` is outside its bounds (`{allowed}`)", d,
                           "give a default the field allows")
                break


def _shares(program: Program) -> Iterator[Diagnostic]:
    for score in program.scores.values():
        if score.total is not None and score.total.unit == "percent":
            yield _err(f"the total of score `{score.name}` is a percent, but a total is a number of points",
                       score.total, f"write `total {_plain(score.total)}`")
        for item in score_items(score):
            share = getattr(item, "share", None)
            if isinstance(share, n.Share) and share.kind == "points" and share.amount.unit == "percent":
                yield _err(f"`points {share.amount.text}` of `{item.name}` is a percent, but points are a number",
                           share.amount, f"write `weight {share.amount.text}` for a share of the block, or "
                           f"`points {_plain(share.amount)}`")


def _plain(num: n.Num) -> str:
    value = num.value * 100
    return str(value.numerator) if value.denominator == 1 else str(float(value))


def _entity_columns(program: Program) -> Iterator[Diagnostic]:
    units_input = program.units.input if program.units is not None else None
    checks = []
    if program.units is not None and program.units.parent:
        checks.append((program.units, program.units.parent, r"\bparent\s+(\w+)", "parent"))
    if program.people is not None and units_input is not None:
        checks.append((program.people, program.people.member_of, r"\bmember\s+of\s+(\w+)", "member of"))
    for decl, column, pattern, option in checks:
        inp = program.inputs.get(decl.input)
        f = next((f for f in inp.fields if f.name == column), None) if inp else None
        if f is not None and not (f.type.base == "ref" and f.type.ref == units_input):
            yield Diagnostic("KPI030", f"`{option} {column}` needs a reference to `{units_input}`, but `{column}` is "
                             f"{describe(field_type(f))}", word_span(decl.span, pattern),
                             help=f"declare it as `{column}: ref {units_input}`")
    for inp in program.inputs.values():
        f = next((f for f in inp.fields if f.name == inp.period_by), None)
        if f is not None and f.type.base != "date":
            yield Diagnostic("KPI030",
                             f"`period by {f.name}` needs a date, but `{f.name}` is {describe(field_type(f))}",
                             word_span(head_span(inp), r"\bperiod\s+by\s+(\w+)"),
                             help="name the date column that places a row in a period")
        f = next((f for f in inp.fields if f.name == inp.display), None)
        if f is not None and f.type.base != "text":
            yield Diagnostic("KPI030",
                             f"`display {f.name}` needs text, but `{f.name}` is {describe(field_type(f))}",
                             word_span(head_span(inp), r"\bdisplay\s+(\w+)"),
                             help="name the text column that holds the name shown for a row (a person's full name)")
