"""Lark tree to AST: one method per grammar rule, every node given its Span."""

from __future__ import annotations

import datetime
from fractions import Fraction
from typing import Any

from lark import Token, Transformer, v_args

from kpidsl.diagnostics import Diagnostic
from kpidsl.source import SourceFile, Span
from kpidsl.syntax import nodes as n
from kpidsl.syntax.parser import Parsed

MISSING_POLICIES = ("zero", "fail", "renormalise", "skip")
ROUNDING_MODES = ("half_up", "half_even", "down", "up")
PERIOD_KINDS = ("month", "quarter", "year")
LANGUAGES = ("vi", "en")
DECIMAL_MARKS = ("point", "comma")
DATE_ORDERS = ("yyyy/mm/dd", "dd/mm/yyyy")


def lower(parsed: Parsed) -> tuple[n.Framework | None, tuple[Diagnostic, ...]]:
    """The AST of a parsed file, with the diagnostics that only lowering can see."""
    if parsed.tree is None:
        return None, parsed.diagnostics
    builder = _Lower(parsed.source)
    framework = builder.transform(parsed.tree)
    framework = n.Framework(**{**framework.__dict__, "comments": parsed.comments})
    return framework, tuple(builder.diagnostics)


def _num(token: Token, span: Span, negative: bool = False) -> n.Num:
    text = str(token)
    if text.endswith("%"):
        value, unit = Fraction(text[:-1]) / 100, "percent"
    else:
        value, unit = Fraction(text), "number"
    if negative:
        return n.Num(span=span, value=-value, unit=unit, text="-" + text)
    return n.Num(span=span, value=value, unit=unit, text=text)


def _unquote(token: Token) -> str:
    body = str(token)[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


@v_args(meta=True)
class _Lower(Transformer):
    def __init__(self, source: SourceFile) -> None:
        super().__init__(visit_tokens=True)
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    # ------------------------------------------------------------ helpers
    def _span(self, meta: Any, children: list | None = None) -> Span:
        if meta is not None and not getattr(meta, "empty", True):
            return self.source.span(meta.start_pos, meta.end_pos)
        for child in children or ():
            span = self._child_span(child)
            if span is not None:
                return span
        return self.source.span(0, 0)

    def _child_span(self, child: Any) -> Span | None:
        if isinstance(child, Token) and child.start_pos is not None:
            return self.source.span(child.start_pos, child.end_pos or child.start_pos)
        return getattr(child, "span", None)

    def _tok_span(self, token: Token) -> Span:
        start = token.start_pos or 0   # tokens from the lexer always carry their place
        return self.source.span(start, token.end_pos or start)

    def _error(self, code: str, message: str, span: Span, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help=help))

    def _label(self, value: Any) -> str | None:
        return value.value if isinstance(value, n.Text) else None

    def _choice(self, token: Token | None, allowed: tuple[str, ...], what: str) -> str | None:
        if token is None:
            return None
        if str(token) not in allowed:
            self._error("KPI032", f"`{token}` is not a {what}", self._tok_span(token),
                        help="use one of: " + ", ".join(f"`{a}`" for a in allowed))
        return str(token)

    # ------------------------------------------------------------ terminals
    def STRING(self, token: Token) -> n.Text:  # noqa: N802 (lark names terminals in capitals)
        return n.Text(span=self._tok_span(token), value=_unquote(token))

    def DATE(self, token: Token) -> n.DateLit:  # noqa: N802
        span = self._tok_span(token)
        try:
            value = datetime.date.fromisoformat(str(token))
        except ValueError:
            self._error("KPI032", f"`{token}` is not a calendar date", span,
                        help="check the month (01-12) and the day of the month; dates are written YYYY-MM-DD")
            value = datetime.date(1970, 1, 1)
        return n.DateLit(span=span, value=value)

    # ------------------------------------------------------------ file and header
    def start(self, meta, children):
        header, *decls = children
        return n.Framework(span=self._span(meta, children), decls=tuple(decls), **header)

    def header(self, meta, children):
        qname, label, *opts = children
        out: dict[str, Any] = {"id": qname.dotted, "title": self._label(label)}
        for key, value, span in opts:
            if key in out and key not in ("id", "title"):
                self._error("KPI021", f"`{key}` is given twice in the header", span)
            out[key] = value
        return out

    def version(self, meta, children):
        return "version", children[0].value, self._span(meta, children)

    def effective(self, meta, children):
        return "effective", children[0].value, self._span(meta, children)

    def period_kind(self, meta, children):
        return "period", self._choice(children[0], PERIOD_KINDS, "period kind"), self._span(meta, children)

    def rounding(self, meta, children):
        places, mode = children
        span = self._span(meta, children)
        if int(places) > 10:
            self._error("KPI032", "rounding to more than 10 places is not supported", span,
                        help="scores are published with a few decimals; `rounding 2` is the usual choice")
        mode_name = self._choice(mode, ROUNDING_MODES, "rounding mode") or "half_up"
        return "rounding", n.Rounding(span=span, places=int(places), mode=mode_name), span

    def language(self, meta, children):
        return "language", self._choice(children[0], LANGUAGES, "language of the outputs"), \
            self._span(meta, children)

    def decimal_mark(self, meta, children):
        return "decimal", self._choice(children[0], DECIMAL_MARKS, "decimal mark"), self._span(meta, children)

    def date_order(self, meta, children):
        span = self._span(meta, children)
        order = "/".join(str(c) for c in children)
        if order not in DATE_ORDERS:
            self._error("KPI032", f"`{order}` is not a date layout", span,
                        help="use `dates dd/mm/yyyy` (day first); ISO dates (2025-12-04) are always accepted")
            return "dates", None, span
        return "dates", order, span

    def qname(self, meta, children):
        return n.Name(span=self._span(meta, children), parts=tuple(str(c) for c in children))

    path = qname
    expect_path = qname

    def expect_part(self, meta, children):
        return children[0]

    def use(self, meta, children):
        path, alias = children
        return n.Use(span=self._span(meta, children), path=path.value, alias=str(alias) if alias else None)

    def extends(self, meta, children):
        return n.Extends(span=self._span(meta, children), target=children[0].dotted)

    def locked(self, meta, children):
        return True

    # ------------------------------------------------------------ constraints
    def require(self, meta, children):
        constraint, label = children
        return n.Require(span=self._span(meta, children), constraint=constraint, label=self._label(label))

    def share_between(self, meta, children):
        kind, target, low, high = children
        return n.ShareBetween(span=self._span(meta, children), kind=kind, target=target, low=low, high=high)

    def every_scaled(self, meta, children):
        return n.EveryScaled(span=self._span(meta, children), within=children[0])

    # ------------------------------------------------------------ inputs
    def input(self, meta, children):
        locked, name, label, *rest = children
        span = self._span(meta, children)
        opts: dict[str, str] = {}
        fields = []
        for item in rest:
            if isinstance(item, tuple):
                key, value, opt_span = item
                if key in opts:
                    self._error("KPI021", f"`{key.replace('_', ' ')}` is given twice for input `{name}`", opt_span)
                opts[key] = value
            else:
                fields.append(item)
        return n.Input(span=span, name=str(name), label=self._label(label), fields=tuple(fields),
                       locked=bool(locked), **opts, name_span=self._tok_span(name))

    def key(self, meta, children):
        return "key", str(children[0]), self._span(meta, children)

    def period_by(self, meta, children):
        return "period_by", str(children[0]), self._span(meta, children)

    def display(self, meta, children):
        return "display", str(children[0]), self._span(meta, children)

    def field(self, meta, children):
        name, label, ftype, default = children
        return n.Field(span=self._span(meta, children), name=str(name), label=self._label(label),
                       type=ftype, default=default)

    def type(self, meta, children):
        base, optional = children
        return n.FieldType(**{**base.__dict__, "optional": optional is not None})

    def type_name(self, meta, children):
        return children[0]

    def simple_type(self, meta, children):
        base, *bounds = children
        return n.FieldType(span=self._span(meta, children), base=str(base), bounds=tuple(bounds))

    def between_type(self, meta, children):
        base, low, high = children
        bounds = (n.Bound(span=low.span, op=">=", value=low), n.Bound(span=high.span, op="<=", value=high))
        return n.FieldType(span=self._span(meta, children), base=str(base), bounds=bounds, between=True)

    def enum_type(self, meta, children):
        return n.FieldType(span=self._span(meta, children), base="enum", values=tuple(str(c) for c in children))

    def ref_type(self, meta, children):
        return n.FieldType(span=self._span(meta, children), base="ref", ref=str(children[0]))

    def _operator(self, meta, children):
        return str(children[0])

    comp_op = bound_op = add_op = mul_op = _operator

    def bound(self, meta, children):
        op, value = children
        return n.Bound(span=self._span(meta, children), op=str(op), value=value)

    def signed(self, meta, children):
        minus, token = children
        return _num(token, self._span(meta, children), negative=minus is not None)

    # ------------------------------------------------------------ entities and measures
    def entity_kind(self, meta, children):
        return str(children[0])

    share_kind = entity_kind
    entity_noun = entity_kind

    def units_entity(self, meta, children):
        source, parent = children
        return n.UnitsEntity(span=self._span(meta, children), input=str(source),
                             parent=str(parent) if parent else None)

    def people_entity(self, meta, children):
        source, member_of, leader_when = children
        return n.PeopleEntity(span=self._span(meta, children), input=str(source), member_of=str(member_of),
                              leader_when=leader_when)

    def measure(self, meta, children):
        locked, name, label, entity, expr, missing = children
        return n.Measure(span=self._span(meta, children), name=str(name), label=self._label(label),
                         entity=entity, expr=expr, missing=missing[1] if missing else None, locked=bool(locked),
                         name_span=self._tok_span(name))

    def missing(self, meta, children):
        """("missing", the policy, where `missing ...` is written): a policy given twice is shown there."""
        return "missing", self._choice(children[0], MISSING_POLICIES, "missing-value policy"), \
            self._span(meta, children)

    # ------------------------------------------------------------ scales
    def scale(self, meta, children):
        locked, name, label, body = children
        return n.Scale(span=self._span(meta, children), name=str(name), label=self._label(label), body=body,
                       locked=bool(locked), name_span=self._tok_span(name))

    def linear(self, meta, children):
        points = tuple(c for c in children if isinstance(c, n.Point))
        flags = [c for c in children if not isinstance(c, n.Point)]
        clamp, cap = False, None
        span = self._span(meta, children)
        for flag in flags:
            if flag == "clamp":
                if clamp:
                    self._error("KPI021", "`clamp` is given twice", span)
                clamp = True
            else:
                if cap is not None:
                    self._error("KPI021", "`cap` is given twice", flag.span)
                cap = flag
        return n.Linear(span=span, points=points, clamp=clamp, cap=cap)

    def point(self, meta, children):
        x, y = children
        return n.Point(span=self._span(meta, children), x=x, y=y)

    def clamp(self, meta, children):
        return "clamp"

    def cap(self, meta, children):
        return children[0]

    def bands(self, meta, children):
        return n.Bands(span=self._span(meta, children), bands=tuple(children))

    def band(self, meta, children):
        *bounds, points = children
        return n.Band(span=self._span(meta, children), bounds=tuple(bounds), points=points)

    def else_band(self, meta, children):
        return n.Band(span=self._span(meta, children), bounds=(), points=children[0], is_else=True)

    def target(self, meta, children):
        target, cap = children
        return n.Target(span=self._span(meta, children), target=target, cap=cap)

    def levels(self, meta, children):
        return n.Levels(span=self._span(meta, children), levels=tuple(children))

    def level_point(self, meta, children):
        name, points = children
        return n.LevelPoint(span=self._span(meta, children), level=str(name), points=points)

    def pass_fail(self, meta, children):
        passed, failed = children
        return n.PassFail(span=self._span(meta, children), passed=passed, failed=failed)

    # ------------------------------------------------------------ scores
    def score(self, meta, children):
        locked, name, label, entity, where, *rest = children
        span = self._span(meta, children)
        opts, items = self._block_opts(rest, f"score `{name}`")
        return n.Score(span=span, name=str(name), label=self._label(label), entity=entity, where=where,
                       items=tuple(items), locked=bool(locked), **opts, name_span=self._tok_span(name))

    def _block_opts(self, rest: list, owner: str) -> tuple[dict, list]:
        opts: dict[str, Any] = {}
        items = []
        for item in rest:
            if isinstance(item, tuple) and item[0] == "total":
                if "total" in opts:
                    self._error("KPI021", f"`total` is given twice in {owner}", item[1].span)
                opts["total"] = item[1]
            elif isinstance(item, tuple) and item[0] == "missing":
                if "missing" in opts:
                    self._error("KPI021", f"`missing` is given twice in {owner}", item[2],
                                help="keep one `missing` policy")
                opts["missing"] = item[1]
            else:
                items.append(item)
        return opts, items

    def total(self, meta, children):
        return "total", children[0]

    def extend_block(self, meta, children):
        target, share, replace, *rest = children
        opts, items = self._block_opts(rest, f"extend `{target.dotted}`")
        return n.ExtendBlock(span=self._span(meta, children), target=target, share=share, items=tuple(items),
                             replace=bool(replace), **opts)

    def replace(self, meta, children):
        return True

    def use_rating(self, meta, children):
        return n.UseRating(span=self._span(meta, children), name=str(children[0]))

    def share(self, meta, children):
        kind, amount = children
        return n.Share(span=self._span(meta, children), kind=kind, amount=amount)

    def criterion(self, meta, children):
        locked, name, label, share, expr, *opts = children
        span = self._span(meta, children)
        scale = scale_span = missing = None
        seen: set[str] = set()
        for opt in opts:
            kind, value, opt_span = opt
            if kind in seen:
                self._error("KPI021", f"`{kind}` is given twice for criterion `{name}`", opt_span)
            seen.add(kind)
            if kind == "scored":
                scale, scale_span = value, opt_span
            else:
                missing = value
        return n.Criterion(span=span, name=str(name), label=self._label(label), share=share, expr=expr,
                           scale=scale, scale_span=scale_span, missing=missing, locked=bool(locked),
                           name_span=self._tok_span(name))

    def scored(self, meta, children):
        value = children[0]
        return "scored", (str(value) if isinstance(value, Token) else value), self._span(meta, children)

    def group(self, meta, children):
        locked, name, label, share, missing, *items = children
        return n.Group(span=self._span(meta, children), name=str(name), label=self._label(label), share=share,
                       missing=missing[1] if missing else None, items=tuple(items), locked=bool(locked),
                       name_span=self._tok_span(name))

    def _adjustment(self, kind: str, meta, children):
        locked, name, label, expr, limit = children
        return n.Adjustment(span=self._span(meta, children), kind=kind, name=str(name),
                            label=self._label(label), expr=expr, limit=limit, locked=bool(locked),
                            name_span=self._tok_span(name))

    def bonus(self, meta, children):
        return self._adjustment("bonus", meta, children)

    def penalty(self, meta, children):
        return self._adjustment("penalty", meta, children)

    def limit(self, meta, children):
        return children[0]

    # ------------------------------------------------------------ ratings
    def rating(self, meta, children):
        locked, name, label, *items = children
        return n.Rating(span=self._span(meta, children), name=str(name), label=self._label(label),
                        items=tuple(items), locked=bool(locked), name_span=self._tok_span(name))

    def level(self, meta, children):
        name, label, when = children
        return n.Level(span=self._span(meta, children), name=str(name), label=self._label(label), when=when)

    def fallback(self, meta, children):
        name, label = children
        return n.Level(span=self._span(meta, children), name=str(name), label=self._label(label), when=None)

    def override(self, meta, children):
        level, when = children
        return n.Override(span=self._span(meta, children), level=str(level), when=when)

    def rating_cap(self, meta, children):
        against, when = children
        return n.RatingCap(span=self._span(meta, children), against=against, when=when)

    def quota(self, meta, children):
        level, at_most, of, per, resolution = children
        return n.Quota(span=self._span(meta, children), level=str(level), at_most=at_most, of=str(of), per=per,
                       resolve_by=resolution)

    def resolve_by(self, meta, children):
        return str(children[0])

    def report(self, meta, children):
        return None

    # ------------------------------------------------------------ roll-up
    def rollup(self, meta, children):
        locked, name, label, entity, per, *items = children
        return n.Rollup(span=self._span(meta, children), name=str(name), label=self._label(label), entity=entity,
                        per=self._choice(per, PERIOD_KINDS, "period kind") or str(per), items=tuple(items),
                        locked=bool(locked), name_span=self._tok_span(name))

    def rollup_score(self, meta, children):
        return n.RollupScore(span=self._span(meta, children), expr=children[0])

    def not_evaluated(self, meta, children):
        return n.NotEvaluated(span=self._span(meta, children), when=children[0])

    # ------------------------------------------------------------ tests
    def test(self, meta, children):
        label, *items = children
        return n.Test(span=self._span(meta, children), label=label.value, items=tuple(items))

    def test_period(self, meta, children):
        return n.TestPeriod(span=self._span(meta, children), period=str(children[0]))

    def given(self, meta, children):
        name, columns, *rows = children
        span = self._span(meta, children)
        for row in rows:
            if len(row.cells) != len(columns):
                self._error("KPI095", f"this row has {len(row.cells)} values but `{name}` lists "
                            f"{len(columns)} columns", row.span,
                            help="give one value per column, `none` for an absent one")
        return n.Given(span=span, input=str(name), columns=columns, rows=tuple(rows))

    def name_list(self, meta, children):
        return tuple(str(c) for c in children)

    def row(self, meta, children):
        return n.Row(span=self._span(meta, children), cells=tuple(children))

    def name_cell(self, meta, children):
        return n.Name(span=self._span(meta, children), parts=(str(children[0]),))

    def none(self, meta, children):
        return n.NoneLit(span=self._span(meta, children))

    def expect(self, meta, children):
        entity, ident, path, value = children
        return n.Expect(span=self._span(meta, children), entity=entity, id=ident, path=path, value=value)

    def expect_error(self, meta, children):
        return n.ExpectError(span=self._span(meta, children), message=children[0].value)

    # ------------------------------------------------------------ expressions
    def if_expr(self, meta, children):
        cond, then, otherwise = children
        return n.If(span=self._span(meta, children), cond=cond, then=then, otherwise=otherwise)

    def or_expr(self, meta, children):
        return n.BoolOp(span=self._span(meta, children), op="or", operands=tuple(children))

    def and_expr(self, meta, children):
        return n.BoolOp(span=self._span(meta, children), op="and", operands=tuple(children))

    def not_expr(self, meta, children):
        return n.Not(span=self._span(meta, children), operand=children[0])

    def compare(self, meta, children):
        left, op, right = children
        return n.Compare(span=self._span(meta, children), left=left, op=str(op), right=right)

    def in_list(self, meta, children):
        operand, items = children
        return n.InList(span=self._span(meta, children), operand=operand, items=items)

    def list(self, meta, children):
        return tuple(children)

    def is_missing(self, meta, children):
        return n.IsMissing(span=self._span(meta, children), operand=children[0], negated=False)

    def is_present(self, meta, children):
        return n.IsMissing(span=self._span(meta, children), operand=children[0], negated=True)

    def _chain(self, meta, children):
        return n.Arith(span=self._span(meta, children), operands=tuple(children[0::2]),
                       ops=tuple(str(op) for op in children[1::2]))

    sum_expr = _chain
    product = _chain

    def neg(self, meta, children):
        operand = children[0]
        if isinstance(operand, n.Num) and operand.value >= 0 and not operand.text.startswith("-"):
            # -5 is a literal, so the formatter and the checker see one number.
            return n.Num(span=self._span(meta, children), value=-operand.value, unit=operand.unit,
                         text="-" + operand.text)
        return n.Neg(span=self._span(meta, children), operand=operand)

    def number(self, meta, children):
        return _num(children[0], self._span(meta, children))

    percent = number

    def fraction(self, meta, children):
        num, den = children
        span = self._span(meta, children)
        if Fraction(str(den)) == 0:
            self._error("KPI032", "a fraction cannot have 0 below the line", span,
                        help="write the share as a fraction such as 1/3, or as a percentage")
            value = Fraction(0)
        else:
            value = Fraction(str(num)) / Fraction(str(den))
        return n.Num(span=span, value=value, unit="number", text=f"{num}/{den}")

    def string(self, meta, children):
        return children[0]

    date = string

    def true(self, meta, children):
        return n.Bool(span=self._span(meta, children), value=True)

    def false(self, meta, children):
        return n.Bool(span=self._span(meta, children), value=False)

    def call(self, meta, children):
        func, args = children
        exprs, where, deduction = args
        return n.Call(span=self._span(meta, children), func=str(func), args=exprs, where=where,
                      deduction=deduction)

    def args(self, meta, children):
        *exprs, where, deduction = children
        return tuple(exprs), where, deduction

    def deduction(self, meta, children):
        rate, per, cap, unless = children
        return n.Deduction(span=self._span(meta, children), rate=rate, per=per, cap=cap, unless=unless)

    def __default__(self, data, children, meta):  # pragma: no cover - a grammar rule without a method
        raise NotImplementedError(f"no lowering for grammar rule {data!r}")
