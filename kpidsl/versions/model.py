"""The semantic model of a resolved framework: every rule under a stable identity, with the fields that mean something.

Two versions are compared entry by entry. An identity names a rule the way a
reader does (`score staff / a_quantity`, `rating national / level good`), so
declaration order, layout, comments and where in the files a rule is written
never make a difference; a field holds a canonical value (an expression's tree
without its positions, a share as a number, a scale as a function), and each
field belongs to one change class.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kpidsl.semantic.conditions import overlap
from kpidsl.semantic.resolve import Program
from kpidsl.semantic.tree import score_total
from kpidsl.semantic.walk import walk
from kpidsl.source import Span
from kpidsl.syntax import nodes as n
from kpidsl.versions.points import exact, placed_items
from kpidsl.versions.scales import Function, function_of

CLASSES = ("points", "credit", "rating", "population", "data", "governance", "cosmetic")

# (entry kind, field) -> change class; a field not listed is `cosmetic`.
FIELD_CLASS: dict[tuple[str, str], str] = {
    ("header", "period"): "data", ("header", "rounding"): "points",
    ("input", "key"): "data", ("input", "period by"): "data", ("input", "locked"): "governance",
    ("field", "type"): "data", ("field", "default"): "data",
    ("entities", "input"): "population", ("entities", "parent"): "population",
    ("entities", "member of"): "population", ("entities", "leader when"): "population",
    ("measure", "entity"): "credit", ("measure", "expression"): "credit", ("measure", "missing"): "credit",
    ("measure", "locked"): "governance",
    ("scale", "function"): "credit", ("scale", "locked"): "governance",
    ("score", "entity"): "population", ("score", "where"): "population", ("score", "after"): "population",
    ("score", "total"): "points", ("score", "missing"): "credit", ("score", "rating"): "rating",
    ("score", "locked"): "governance",
    ("item", "kind"): "credit", ("item", "parent"): "points", ("item", "share"): "points",
    ("item", "points"): "points", ("item", "expression"): "credit", ("item", "scale"): "credit",
    ("item", "missing"): "credit", ("item", "at most"): "credit", ("item", "locked"): "governance",
    ("rating", "levels"): "rating", ("rating", "locked"): "governance",
    ("level", "condition"): "rating",
    ("override", "condition"): "rating", ("override", "order"): "rating",
    ("cap", "condition"): "rating",
    ("quota", "at most"): "rating", ("quota", "of"): "rating", ("quota", "per"): "rating",
    ("quota", "resolve by"): "rating",
    ("rollup", "entity"): "population", ("rollup", "per"): "data", ("rollup", "score"): "credit",
    ("rollup", "rating"): "rating", ("rollup", "not evaluated"): "population", ("rollup", "locked"): "governance",
    ("require", "between"): "governance",
    ("test", "body"): "governance",
}


@dataclass(frozen=True)
class Value:
    """A field's canonical value (compared) and how it is written (shown)."""

    key: Any
    text: str

    def same(self, other: Value) -> bool:
        if isinstance(self.key, (Function, ScaleRef)) and type(other.key) is type(self.key):
            return self.key.same(other.key)
        return self.key == other.key


@dataclass(frozen=True, eq=False)
class ScaleRef:
    """The scale of a criterion: a named scale (whose own changes are the scale's), or one of its own."""

    name: str | None
    function: Function

    def same(self, other: ScaleRef) -> bool:
        if self.name is not None and self.name == other.name:
            return True  # a change of the named scale is listed once, at the scale
        return self.function.same(other.function)


@dataclass
class Entry:
    """One rule of the framework under its identity."""

    key: str                      # the identity, e.g. "score staff / a_quantity"
    kind: str                     # header input field entities measure scale score item rating level override
    #                               cap quota rollup require test
    fields: dict[str, Value]
    span: Span | None
    label: str | None = None
    node: n.Node | None = None
    score: str | None = None      # items: their score
    name: str | None = None       # items: their own name; other entries: the declaration's name
    parent: tuple[str, ...] = ()  # items: the groups above them
    points: Fraction | None = None  # items: their effective budget
    total: Fraction | None = None   # items: their score's total
    reads: frozenset[str] = frozenset()  # what it reads, as typed names: measure:done, scale:percent, level:good

    @property
    def provides(self) -> str | None:
        """The typed name other rules read this one by (`measure:done`), if they can."""
        kind = {"measure": "measure", "scale": "scale", "field": "field", "level": "level", "rating": "rating",
                "input": "input"}.get(self.kind)
        return f"{kind}:{self.name}" if kind and self.name else None

    @property
    def shown(self) -> str:
        """How a reader names the rule: `staff / results.a_quantity` for an item, else its identity."""
        if self.kind == "item":
            return f"{self.score} / {'.'.join((*self.parent, self.name or ''))}"
        return self.key

    def changed_fields(self, other: Entry) -> list[str]:
        names = [*self.fields, *(k for k in other.fields if k not in self.fields)]
        missing = Value(None, "")
        return [k for k in names if not self.fields.get(k, missing).same(other.fields.get(k, missing))]


@dataclass
class Model:
    """Every entry of one framework, in the order its files declare them."""

    program: Program
    entries: dict[str, Entry] = field(default_factory=dict)
    places: int = 2

    def add(self, entry: Entry) -> None:
        key = entry.key
        k = 2
        while key in self.entries:  # two rules one identity could name (a KPI021 in the framework): keep both
            key = f"{entry.key} #{k}"
            k += 1
        entry.key = key
        self.entries[key] = entry


# ---------------------------------------------------------------- canonical values

_LITERALS = (n.Num, n.Text, n.DateLit, n.Bool)
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}

def canon(node: Any) -> Any:
    """A node's meaning as nested tuples: its kind and compared fields, positions and spelling left out.

    A number is its value (25% and 0.25 are the same number wherever a value is computed).
    """
    if isinstance(node, n.Num):
        return ("num", node.value)
    if isinstance(node, n.Compare) and isinstance(node.left, _LITERALS) and not isinstance(node.right, _LITERALS):
        # `70 <= score` is `score >= 70`
        return ("Compare", ("left", canon(node.right)), ("op", _MIRROR[node.op]), ("right", canon(node.left)))
    if isinstance(node, n.BoolOp):
        # `and` and `or` do not depend on the order of their operands (nor do they in the engine's SQL).
        return ("BoolOp", ("op", node.op), ("operands", tuple(sorted((canon(o) for o in node.operands), key=repr))))
    if isinstance(node, n.Node):
        parts = [type(node).__name__]
        for f in dataclasses.fields(node):
            if f.compare and f.name != "span":
                parts.append((f.name, canon(getattr(node, f.name))))
        return tuple(parts)
    if isinstance(node, tuple):
        return tuple(canon(x) for x in node)
    return node


def source(node: n.Node | None) -> str:
    """A node as written, on one line."""
    if node is None:
        return ""
    span = node.span
    return " ".join(span.source.text[span.start:span.end].split())


def expr_value(expr: n.Node | None) -> Value:
    return Value(canon(expr), source(expr) if expr is not None else "none")


def text_value(value: Any, text: str | None = None) -> Value:
    return Value(value, text if text is not None else ("" if value is None else str(value)))


class Reader:
    """What an expression reads, as typed names (`measure:done`, `field:role`, `level:good`), from the one
    name resolution the checker and the compiler use; a name it could not resolve counts by its parts."""

    def __init__(self, program: Program) -> None:
        from kpidsl.check import CheckContext
        from kpidsl.semantic.scope import scope_of

        self.refs = scope_of(CheckContext(program)).refs

    def __call__(self, *exprs: n.Node | None) -> frozenset[str]:
        out: set[str] = set()
        for e in exprs:
            if e is None:
                continue
            for node in walk(e):
                if not isinstance(node, n.Name):
                    continue
                ref = self.refs.get(id(node))
                if ref is None:
                    out.update(f"name:{part}" for part in node.parts)
                    continue
                out.add(f"{ref.sym.kind}:{ref.sym.name}")
                out.update(f"{dep[0]}:{dep[1]}" for dep in ref.sym.deps if dep[0] == "measure")
        return frozenset(out)


# ---------------------------------------------------------------- building the model

def build(program: Program, include_tests: bool = False) -> Model:
    rounding = program.rounding
    model = Model(program, places=rounding.places if rounding else 2)
    names_read = Reader(program)
    _header(model, program)
    for inp in program.inputs.values():
        _input(model, inp)
    if program.units is not None:
        u = program.units
        model.add(Entry("units from", "entities", {"input": text_value(u.input), "parent": text_value(u.parent)},
                        u.span, node=u))
    if program.people is not None:
        p = program.people
        model.add(Entry("people from", "entities", {"input": text_value(p.input), "member of": text_value(p.member_of),
                                                    "leader when": expr_value(p.leader_when)},
                        p.span, node=p, reads=names_read(p.leader_when)))
    for m in program.measures.values():
        model.add(Entry(f"measure {m.name}", "measure", {
            "entity": text_value(m.entity), "expression": expr_value(m.expr), "missing": text_value(m.missing),
            "locked": text_value(m.locked), "label": text_value(m.label)}, m.span, m.label, m, name=m.name,
            reads=names_read(m.expr)))
    for sc in program.scales.values():
        model.add(Entry(f"scale {sc.name}", "scale", {
            "function": Value(function_of(sc.body), source(sc.body)), "locked": text_value(sc.locked),
            "label": text_value(sc.label)}, sc.span, sc.label, sc, name=sc.name))
    _scores(model, program, names_read)
    for rating in program.ratings.values():
        _rating(model, rating, names_read)
    for r in program.rollups.values():
        _rollup(model, r, names_read)
    for req in program.requires:
        _require(model, req)
    if include_tests:
        for t in program.tests:
            model.add(Entry(f"test \"{t.label}\"", "test", {"body": Value(canon(t.items), f"{len(t.items)} lines")},
                            t.span, t.label, t, name=t.label))
    return model


def _header(model: Model, program: Program) -> None:
    root = program.root
    r = root.rounding
    places, mode = (r.places, r.mode) if r is not None else (2, "half_up")
    model.add(Entry("header", "header", {
        "period": text_value(root.period),
        "rounding": text_value((places, mode), f"{places} {mode}"),
        "title": text_value(root.title),
        # version and effective are shown in the diff's first line, not as changes.
    }, root.span, root.title, root, name=root.id))


def _type_text(t: n.FieldType) -> str:
    return source(t)


def _input(model: Model, inp: n.Input) -> None:
    model.add(Entry(f"input {inp.name}", "input", {
        "key": text_value(inp.key), "period by": text_value(inp.period_by), "locked": text_value(inp.locked),
        "label": text_value(inp.label)}, inp.span, inp.label, inp, name=inp.name))
    for f in inp.fields:
        t = f.type
        kind = (t.base, canon(t.bounds), t.between, frozenset(t.values), t.ref, t.optional)
        model.add(Entry(f"input {inp.name}.{f.name}", "field", {
            "type": Value(kind, _type_text(t)), "default": expr_value(f.default) if f.default is not None
            else text_value(None, "none"), "label": text_value(f.label)}, f.span, f.label, f, name=f.name))


def _share_value(share: n.Share | None) -> Value:
    if share is None:
        return Value(None, "none")
    return Value((share.kind, share.amount.value), f"{share.kind} {share.amount.text or exact(share.amount.value)}")


def _scale_value(program: Program, item: n.Criterion) -> Value:
    scale = item.scale
    if isinstance(scale, str):
        named = program.scales.get(scale)
        return Value(ScaleRef(scale, function_of(named.body if named is not None else None)), scale)
    return Value(ScaleRef(None, function_of(scale)), source(scale) if scale is not None else "none")


def _scores(model: Model, program: Program, names_read: Reader) -> None:
    before: dict[str, list[n.Score]] = {}
    for score in program.scores.values():
        earlier = before.setdefault(score.entity, [])
        entity_input = program.entity_input(score.entity)
        fields_of = entity_input.fields if entity_input is not None else ()
        # Declaration order matters only between scores whose `where` may take the same entity.
        after = tuple(sorted(e.name for e in earlier if overlap(fields_of, score.where, e.where)))
        earlier.append(score)
        rating = next((i.name for i in score.items if isinstance(i, n.UseRating)), None)
        total = score_total(score)
        model.add(Entry(f"score {score.name}", "score", {
            "entity": text_value(score.entity), "where": expr_value(score.where),
            "after": Value(after, ", ".join(after) or "none"),
            "total": Value(total, exact(total)), "missing": text_value(score.missing), "rating": text_value(rating),
            "locked": text_value(score.locked), "label": text_value(score.label)},
            score.span, score.label, score, name=score.name, points=total, reads=names_read(score.where)))
        for placed in placed_items(score):
            _item(model, score, placed, names_read)


def _item(model: Model, score: n.Score, placed, names_read: Reader) -> None:
    node = placed.node
    kind = node.kind if isinstance(node, n.Adjustment) else type(node).__name__.lower()
    fields: dict[str, Value] = {"kind": text_value(kind),
                                "parent": Value(placed.parent, ".".join(placed.parent) or "(top)")}
    reads: frozenset[str] = frozenset()
    if isinstance(node, (n.Criterion, n.Group)):
        fields["share"] = _share_value(node.share)
    pts = placed.points
    fields["points"] = Value(pts, exact(pts) if pts is not None else "unknown")
    if isinstance(node, n.Criterion):
        fields["expression"] = expr_value(node.expr)
        fields["scale"] = _scale_value(model.program, node)
        reads = names_read(node.expr) | ({f"scale:{node.scale}"} if isinstance(node.scale, str) else set())
    elif isinstance(node, n.Adjustment):
        fields["expression"] = expr_value(node.expr)
        fields["at most"] = Value(node.limit.value if node.limit else None,
                                  exact(node.limit.value) if node.limit else "none")
        reads = names_read(node.expr)
    if not isinstance(node, n.Adjustment):
        fields["missing"] = text_value(node.missing)
    fields["locked"] = text_value(node.locked)
    fields["label"] = text_value(node.label)
    model.add(Entry(f"score {score.name} / {node.name}", "item", fields, node.span, node.label, node,
                    score=score.name, name=node.name, parent=placed.parent, points=pts, reads=reads,
                    total=score_total(score)))


def threshold(cond: n.Expr | None) -> tuple[Fraction, bool] | None:
    """(N, inclusive) of the `score >= N` (or `score > N`) a level's condition needs: its largest such conjunct."""
    found = [b for c in _conjuncts(cond) if (b := _score_bound(c)) is not None] if cond is not None else []
    return max(found, key=lambda b: (b[0], not b[1])) if found else None


def without_threshold(cond: n.Expr | None) -> Any:
    """The rest of a level's condition: its canonical conjuncts other than the score thresholds."""
    if cond is None:
        return None
    return tuple(sorted((canon(c) for c in _conjuncts(cond) if _score_bound(c) is None), key=repr))


def _conjuncts(e: n.Expr):
    if isinstance(e, n.BoolOp) and e.op == "and":
        for o in e.operands:
            yield from _conjuncts(o)
    else:
        yield e


def _is_score(e: n.Expr) -> bool:
    return isinstance(e, n.Name) and e.parts == ("score",)


def _score_bound(e: n.Expr) -> tuple[Fraction, bool] | None:
    """(N, inclusive) of `score >= N`, `score > N`, `N <= score` or `N < score`."""
    if not isinstance(e, n.Compare):
        return None
    if _is_score(e.left) and e.op in (">=", ">") and isinstance(e.right, n.Num):
        return e.right.value, e.op == ">="
    if _is_score(e.right) and e.op in ("<=", "<") and isinstance(e.left, n.Num):
        return e.left.value, e.op == "<="
    return None


def _rating(model: Model, rating: n.Rating, names_read: Reader) -> None:
    levels = [i for i in rating.items if isinstance(i, n.Level)]
    order = tuple(dict.fromkeys(lv.name for lv in levels))
    model.add(Entry(f"rating {rating.name}", "rating", {
        "levels": Value(order, ", ".join(order)), "locked": text_value(rating.locked),
        "label": text_value(rating.label)}, rating.span, rating.label, rating, name=rating.name))
    counts: dict[str, int] = {}
    override_at = 0
    for item in rating.items:
        if isinstance(item, n.Level):
            model.add(Entry(f"rating {rating.name} / level {item.name}", "level", {
                "condition": expr_value(item.when) if item.when is not None else text_value(None, "otherwise"),
                "label": text_value(item.label)}, item.span, item.label, item, name=item.name,
                score=rating.name, reads=names_read(item.when)))
        elif isinstance(item, n.Override):
            override_at += 1
            key = _numbered(counts, f"rating {rating.name} / override {item.level}")
            model.add(Entry(key, "override", {"condition": expr_value(item.when),
                                              "order": Value(override_at, str(override_at))},
                            item.span, node=item, name=item.level, score=rating.name,
                            reads=names_read(item.when) | {f"level:{item.level}"}))
        elif isinstance(item, n.RatingCap):
            key = _numbered(counts, f"rating {rating.name} / cap {item.against.dotted}")
            model.add(Entry(key, "cap", {"condition": expr_value(item.when) if item.when is not None
                                         else text_value(None, "always")},
                            item.span, node=item, score=rating.name, reads=names_read(item.against, item.when)))
        elif isinstance(item, n.Quota):
            key = _numbered(counts, f"rating {rating.name} / quota {item.level}")
            model.add(Entry(key, "quota", {
                "at most": Value(item.at_most.value, item.at_most.text or exact(item.at_most.value)),
                "of": text_value(item.of), "per": text_value(item.per.dotted),
                "resolve by": text_value(item.resolve_by, item.resolve_by or "report")},
                item.span, node=item, name=item.level, score=rating.name,
                reads=names_read(item.per) | {f"level:{item.level}", f"level:{item.of}"}))


def _numbered(counts: dict[str, int], key: str) -> str:
    counts[key] = counts.get(key, 0) + 1
    return key if counts[key] == 1 else f"{key} #{counts[key]}"


def _rollup(model: Model, r: n.Rollup, names_read: Reader) -> None:
    expr = next((i.expr for i in r.items if isinstance(i, n.RollupScore)), None)
    rating = next((i.name for i in r.items if isinstance(i, n.UseRating)), None)
    skip = next((i.when for i in r.items if isinstance(i, n.NotEvaluated)), None)
    model.add(Entry(f"rollup {r.name}", "rollup", {
        "entity": text_value(r.entity), "per": text_value(r.per), "score": expr_value(expr),
        "rating": text_value(rating), "not evaluated": expr_value(skip), "locked": text_value(r.locked),
        "label": text_value(r.label)}, r.span, r.label, r, name=r.name, reads=names_read(expr, skip)))


def _require(model: Model, req: n.Require) -> None:
    c = req.constraint
    if isinstance(c, n.ShareBetween):
        key = f"require {c.kind} of {c.target.dotted}"
        fields = {"between": Value((c.low.value, c.high.value),
                                   f"{c.low.text or exact(c.low.value)} and {c.high.text or exact(c.high.value)}")}
    else:
        key = "require every criterion has scale" + (f" in {c.within.dotted}" if c.within is not None else "")
        fields = {}
    fields["label"] = text_value(req.label)
    model.add(Entry(key, "require", fields, req.span, req.label, req))
