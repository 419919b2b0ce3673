"""The formatter: an AST and its comments printed back as canonical framework text.

Layout rules (docs/fmt-notes.md says the same for readers):

- The header's first line is `framework ID "Title" version "V" effective DATE`;
  if that passes 100 characters, `version` and `effective` move to the
  following lines. `period` and `rounding` always stand on their own lines,
  indented two spaces. The rounding mode is always written out.
- One blank line between top-level declarations, except that one-line
  declarations written on consecutive lines (a run of measures, `use` and
  `extends`) stay together; a declaration with a block always stands apart.
- 2-space indentation; `{` ends the line that opens a block, `}` stands on its
  own line (a criterion with an inline `bands`/`levels` scale continues after
  it: `} missing zero`).
- One field, criterion, band, level, rating rule or data row per line. Inside a
  block a blank line the author left between two items is kept (runs collapse
  to one); none is kept right after `{` or before `}`.
- Options come in one order whatever order they were written in: input `key`,
  `period by`; score `where`, `total`, `missing`; criterion share, `=`,
  expression, `scored`, `missing`; linear points, `clamp`, `cap`; quota
  `resolve by NAME` or `report` (the default, written out).
- A line longer than 100 characters is continued with a 4-space hanging
  indent. Criterion `scored`/`missing` then each take a line; the expression
  after `=` moves to its own line if that is enough; otherwise the expression
  breaks before `and`/`or`/`then`/`else`/`where`/`less`/`unless` and after `,`,
  outermost first. Words are never split inside a label or literal.
- Operators are spaced (`a + b`, `x >= 1`), literals keep their written form
  (`0.50`, `1/3`, `25%`), labels are re-quoted with `\\"`, `\\\\`, `\\n`, `\\t`.
  Parentheses appear only where the tree needs them, so the printed text
  lowers to an equal AST (`a - (b - c)` and `(a - b) - c` keep theirs: the
  language's chains are flat and a parenthesised chain is a separate node).
- Comments are kept, in order, next to what they were written by: a comment
  on its own line stays before the item that follows it (after the last item
  of a block it stays inside, before `}`); a comment at the end of a line stays
  at the end of that item's (last) line. Comments written inside a one-line
  item, or before a block's `{`, move to their own lines just above the item.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kpidsl.decimals import decimal_text
from kpidsl.diagnostics import Diagnostic
from kpidsl.source import SourceFile, Span
from kpidsl.syntax import nodes as n
from kpidsl.syntax.inline import parse_and_lower

WIDTH = 100
INDENT = "  "
HANG = "    "

# A fragment is (break depth, text): the text may start a new line when the
# item does not fit; breaks at lower depth are taken first. FORCE breaks are
# always taken once an item does not fit on one line.
FORCE = -2
CLAUSE = -1
Frag = tuple[int, str]

Pos = tuple[int, int]


def format_text(path: str, text: str) -> tuple[str | None, list[Diagnostic]]:
    """The formatted text of one file, or None and the diagnostics if it does not parse.

    A file whose lowering reports an error (a duplicated option, an impossible
    date) is not formatted either: its AST no longer holds everything written.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    framework, diagnostics = parse_and_lower(SourceFile(path, text))
    if framework is None or any(d.is_error for d in diagnostics):
        return None, list(diagnostics)
    return format_framework(framework), list(diagnostics)


def format_framework(fw: n.Framework) -> str:
    """Canonical text of a framework, with its comments placed back."""
    units = [_header_unit(fw)] + [_unit(d) for d in fw.decls]
    tail = _attach(units, fw.comments)
    out: list[str] = []
    for i, unit in enumerate(units):
        if i and _apart(units[i - 1], unit):
            out.append("")
        _emit(unit, 0, True, out)
    for comment, blank in tail:
        if blank:
            out.append("")
        out.append(comment.text)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- printable units

@dataclass(eq=False)
class _Unit:
    """Something printed from the start of a line: a declaration, a block item, a row."""

    node: object
    start: Pos
    end: Pos
    children: list[_Unit] | None = None  # None: not a block
    brace: Pos | None = None
    close: Pos | None = None  # just after the block's `}`
    pre: list[tuple[n.Comment, bool]] = field(default_factory=list)
    trailing: n.Comment | None = None
    open_trailing: n.Comment | None = None
    end_comments: list[tuple[n.Comment, bool]] = field(default_factory=list)
    blank: bool = False
    hoisted: bool = False


@dataclass(frozen=True)
class _Header:
    fw: n.Framework


def _pos(span: Span) -> Pos:
    return (span.line, span.column)


def _end(span: Span) -> Pos:
    return (span.end_line, span.end_column)


def _text_of(span: Span) -> str | None:
    """The source text a span points into, if the span really belongs to it."""
    text = span.source.text
    return text if 0 <= span.start <= span.end <= len(text) and span.end > span.start else None


def _scan(text: str, start: int, stop: int, brace: bool) -> int | None:
    """Offset of the first `{` (brace=True), or the end of the last token, in text[start:stop].

    Labels and comments are skipped, so a `{` or `#` inside them does not count.
    """
    i, last = start, None
    while i < stop:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < stop and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
            i += 1
            last = i
        elif ch == "#":
            newline = text.find("\n", i, stop)
            i = stop if newline < 0 else newline
        elif ch.isspace():
            i += 1
        elif ch == "{" and brace:
            return i
        else:
            i += 1
            last = i
    return None if brace else last


def _header_unit(fw: n.Framework) -> _Unit:
    start = _pos(fw.span)
    end = start
    text = _text_of(fw.span)
    if text is not None:
        stop = fw.decls[0].span.start if fw.decls else fw.span.end
        last = _scan(text, fw.span.start, stop, brace=False)
        if last is not None:
            end = fw.span.source.position(last)
    return _Unit(_Header(fw), start, end)


def _block_children(node: object) -> list | None:
    if isinstance(node, (n.Score, n.Group, n.ExtendBlock, n.Rating, n.Rollup, n.Test)):
        return list(node.items)
    if isinstance(node, n.Input):
        return list(node.fields)
    if isinstance(node, n.Given):
        return list(node.rows)
    body = node.body if isinstance(node, n.Scale) else node.scale if isinstance(node, n.Criterion) else None
    if isinstance(body, n.Bands):
        return list(body.bands)
    if isinstance(body, n.Levels):
        return list(body.levels)
    return None


def _unit(node: n.Node) -> _Unit:
    kids = _block_children(node)
    unit = _Unit(node, _pos(node.span), _end(node.span))
    if kids is None:
        return unit
    unit.children = [_unit(k) for k in kids]
    unit.brace = unit.children[0].start if unit.children else unit.end
    # A criterion goes on after its inline scale's `}` (`} missing zero`).
    unit.close = _end(node.scale.span) if isinstance(node, n.Criterion) else unit.end
    text = _text_of(node.span)
    if text is not None:
        at = _scan(text, node.span.start, node.span.end, brace=True)
        if at is not None:
            unit.brace = node.span.source.position(at)
    return unit


# ---------------------------------------------------------------- attaching comments

class _Comments:
    def __init__(self, comments: tuple[n.Comment, ...]) -> None:
        self.items = comments
        self.i = 0

    def before(self, pos: Pos) -> n.Comment | None:
        """The next comment if it starts before pos (and consume it)."""
        if self.i < len(self.items):
            c = self.items[self.i]
            if (c.line, c.column) < pos:
                self.i += 1
                return c
        return None


def _attach(top: list[_Unit], comments: tuple[n.Comment, ...]) -> list[tuple[n.Comment, bool]]:
    """Give every comment its place; returns the comments after the last declaration."""
    stream = _Comments(comments)
    last_line = _walk(top, None, stream, top[0].start[0])
    tail: list[tuple[n.Comment, bool]] = []
    end = (1 << 62, 0)
    while (c := stream.before(end)) is not None:
        if not c.own_line and not tail and c.line == top[-1].end[0]:
            _set_trailing(top[-1], c)
        else:
            tail.append((c, c.line - last_line > 1))
        last_line = c.line
    return tail


def _walk(units: list[_Unit], parent: _Unit | None, stream: _Comments, last_line: int) -> int:
    prev: _Unit | None = None
    for unit in units:
        while (c := stream.before(unit.start)) is not None:
            if not c.own_line and prev is not None and c.line == prev.end[0]:
                _set_trailing(prev, c)
            elif (not c.own_line and prev is None and parent is not None and parent.brace is not None
                  and c.line == parent.brace[0] and parent.open_trailing is None):
                parent.open_trailing = c
            else:
                unit.pre.append((c, c.line - last_line > 1))
            last_line = c.line
        unit.blank = unit.start[0] - last_line > 1
        if unit.children is None:
            while (c := stream.before(unit.end)) is not None:
                _hoist(unit, c)
        else:
            assert unit.brace is not None
            while (c := stream.before(unit.brace)) is not None:
                _hoist(unit, c)
            inner = _walk(unit.children, unit, stream, unit.brace[0])
            last_child = unit.children[-1] if unit.children else None
            while (c := stream.before(unit.end)) is not None:
                inside = (c.line, c.column) < unit.close
                if not c.own_line and inside and last_child is not None and c.line == last_child.end[0]:
                    _set_trailing(last_child, c)
                elif (not c.own_line and last_child is None and c.line == unit.brace[0]
                      and unit.open_trailing is None):
                    unit.open_trailing = c
                elif not c.own_line:
                    _set_trailing(unit, c)
                else:
                    unit.end_comments.append((c, c.line - inner > 1))
                inner = c.line
        prev = unit
        last_line = unit.end[0]
    return last_line


def _hoist(unit: _Unit, c: n.Comment) -> None:
    """A comment written inside a one-line item moves to its own line above it."""
    if not unit.hoisted:
        unit.pre.append((c, unit.blank))
        unit.blank = False
        unit.hoisted = True
    else:
        unit.pre.append((c, False))


def _set_trailing(unit: _Unit, c: n.Comment) -> None:
    """Only one comment fits at the end of a line; an earlier one becomes an own-line comment."""
    if unit.trailing is not None:
        if unit.children is None:
            _hoist(unit, unit.trailing)
        else:
            unit.end_comments.append((unit.trailing, False))
    unit.trailing = c


# ---------------------------------------------------------------- emitting lines

def _apart(before: _Unit, unit: _Unit) -> bool:
    """A blank line between two declarations, unless both are one-liners the author kept together."""
    blank = unit.pre[0][1] if unit.pre else unit.blank
    one_liners = before.children is None and unit.children is None and not isinstance(before.node, _Header)
    return blank or not one_liners



def _emit(unit: _Unit, depth: int, first: bool, out: list[str]) -> None:
    indent = INDENT * depth
    for k, (c, blank) in enumerate(unit.pre):
        if blank and not (k == 0 and first):
            out.append("")
        out.append(indent + c.text)
    if unit.blank and not (first and not unit.pre):
        out.append("")
    if isinstance(unit.node, _Header):
        lines = _header_lines(unit.node.fw)
        _append(out, lines, unit.trailing)
        return
    if unit.children is None:
        _append(out, _layout(indent, _line(unit.node)), unit.trailing)
        return
    head, close = _block(unit.node)
    head = head[:-1] + [(head[-1][0], head[-1][1] + " {")]
    _append(out, _layout(indent, head), unit.open_trailing)
    for i, child in enumerate(unit.children):
        _emit(child, depth + 1, i == 0, out)
    inner = indent + INDENT
    for k, (c, blank) in enumerate(unit.end_comments):
        if blank and (k or unit.children):
            out.append("")
        out.append(inner + c.text)
    _append(out, [indent + "}" + close], unit.trailing)


def _append(out: list[str], lines: list[str], trailing: n.Comment | None) -> None:
    if trailing is not None:
        lines = lines[:-1] + [lines[-1] + "  " + trailing.text]
    out.extend(lines)


def _layout(indent: str, frags: list[Frag]) -> list[str]:
    """One line if it fits in WIDTH, else broken at the shallowest breaks that make it fit."""
    flat = indent + " ".join(t for _, t in frags)
    if len(flat) <= WIDTH or len(frags) == 1:
        return [flat]
    levels = sorted({d for d, _ in frags[1:] if d != FORCE}) or [FORCE]
    for level in levels:
        lines = _fill(indent, frags, level)
        if all(len(line) <= WIDTH for line in lines):
            break
    return lines


def _fill(indent: str, frags: list[Frag], level: int) -> list[str]:
    """Break at every shallower break, at `level` breaks only where the line would overflow."""
    lines: list[str] = []
    current = indent + frags[0][1]
    hang = indent + HANG
    for depth, text in frags[1:]:
        if depth == FORCE or depth < level or (depth == level and len(current) + 1 + len(text) > WIDTH):
            lines.append(current)
            current = hang + text
        else:
            current += " " + text
    lines.append(current)
    return lines


def _header_lines(fw: n.Framework) -> list[str]:
    first = "framework " + fw.id + (" " + _quote(fw.title) if fw.title is not None else "")
    lines = [first]
    extra = []
    if fw.version is not None:
        extra.append("version " + _quote(fw.version))
    if fw.effective is not None:
        extra.append("effective " + fw.effective.isoformat())
    for clause in extra:
        if len(lines) == 1 and len(lines[0]) + 1 + len(clause) <= WIDTH:
            lines[0] += " " + clause
        else:
            lines.append(INDENT + clause)
    if fw.period is not None:
        lines.append(INDENT + "period " + fw.period)
    if fw.rounding is not None:
        lines.append(INDENT + f"rounding {fw.rounding.places} {fw.rounding.mode}")
    if fw.language is not None:
        lines.append(INDENT + "language " + fw.language)
    if fw.decimal is not None:
        lines.append(INDENT + "decimal " + fw.decimal)
    if fw.dates is not None:
        lines.append(INDENT + "dates " + fw.dates)
    return lines


# ---------------------------------------------------------------- declarations and items

def _named(keyword: str, locked: bool, name: str, label: str | None) -> str:
    text = ("locked " if locked else "") + keyword + " " + name
    return text + (" " + _quote(label) if label is not None else "")


def _join(frags: list[Frag], sep: str, more: list[Frag]) -> list[Frag]:
    """frags and more glued by sep, with no line break between them."""
    if not frags:
        return list(more)
    if not more:
        return list(frags)
    depth, text = frags[-1]
    return frags[:-1] + [(depth, text + sep + more[0][1])] + more[1:]


def _clause(frags: list[Frag], depth: int, text: str) -> list[Frag]:
    return frags + [(depth, text)]


def _line(node: object) -> list[Frag]:  # noqa: C901 - one branch per construct, as the grammar has them
    """The fragments of an item that prints on one (possibly continued) line."""
    if isinstance(node, n.Use):
        return [(0, "use " + _quote(node.path) + (f" as {node.alias}" if node.alias is not None else ""))]
    if isinstance(node, n.Extends):
        return [(0, "extends " + node.target)]
    if isinstance(node, n.Require):
        c = node.constraint
        if isinstance(c, n.ShareBetween):
            text = f"require {c.kind} of {c.target.dotted} between {_num(c.low)} and {_num(c.high)}"
        else:
            text = "require every criterion" + (f" in {c.within.dotted}" if c.within is not None else "")
            text += " has scale"
        frags = [(0, text)]
        return _clause(frags, CLAUSE, _quote(node.label)) if node.label is not None else frags
    if isinstance(node, n.UnitsEntity):
        return [(0, f"units from {node.input}" + (f" parent {node.parent}" if node.parent is not None else ""))]
    if isinstance(node, n.PeopleEntity):
        frags = [(0, f"people from {node.input} member of {node.member_of}")]
        if node.leader_when is not None:
            frags = _join(frags, " leader when ", _expr(node.leader_when))
        return frags
    if isinstance(node, n.Measure):
        head = [(0, _named("measure", node.locked, node.name, node.label) + f" for {node.entity} =")]
        frags = head + _as_clause(_expr(node.expr))
        if node.missing is not None:
            frags = _clause(frags, FORCE, "missing " + node.missing)
        return frags
    if isinstance(node, n.Scale):
        return [(0, _named("scale", node.locked, node.name, node.label) + " =")] + _as_clause(_scale_inline(node.body))
    if isinstance(node, n.Criterion):
        frags = _criterion_head(node)
        if isinstance(node.scale, str):
            frags = _clause(frags, FORCE, "scored " + node.scale)
        elif node.scale is not None:
            scale = _scale_inline(node.scale)
            frags = frags + [(FORCE, "scored " + scale[0][1])] + scale[1:]
        if node.missing is not None:
            frags = _clause(frags, FORCE, "missing " + node.missing)
        return frags
    if isinstance(node, n.Adjustment):
        head = [(0, _named(node.kind, node.locked, node.name, node.label) + " =")]
        frags = head + _as_clause(_expr(node.expr))
        if node.limit is not None:
            frags = _clause(frags, FORCE, "at most " + _num(node.limit))
        return frags
    if isinstance(node, n.UseRating):
        return [(0, "rating " + node.name)]
    if isinstance(node, n.Field):
        text = node.name + (" " + _quote(node.label) if node.label is not None else "") + ": "
        text += _field_type(node.type)
        if node.default is not None:
            text += " = " + _cell(node.default)
        return [(0, text)]
    if isinstance(node, n.Band):
        bounds = "else" if node.is_else else " ".join(_bound(b) for b in node.bounds)
        return [(0, f"{bounds} -> {_num(node.points)}")]
    if isinstance(node, n.LevelPoint):
        return [(0, f"{node.level} -> {_num(node.points)}")]
    if isinstance(node, n.Level):
        head = node.name + (" " + _quote(node.label) if node.label is not None else "")
        if node.when is None:
            return [(0, head + " otherwise")]
        return _join([(0, head + " when")], " ", _expr(node.when))
    if isinstance(node, n.Override):
        return _join([(0, f"override {node.level} when")], " ", _expr(node.when))
    if isinstance(node, n.RatingCap):
        frags = [(0, "cap " + node.against.dotted)]
        return _join(frags, " when ", _expr(node.when)) if node.when is not None else frags
    if isinstance(node, n.Quota):
        text = f"quota {node.level} at most {_num(node.at_most)} of {node.of} per {node.per.dotted}"
        resolution = f"resolve by {node.resolve_by}" if node.resolve_by is not None else "report"
        return [(0, text), (CLAUSE, resolution)]
    if isinstance(node, n.RollupScore):
        return _join([(0, "score =")], " ", _expr(node.expr))
    if isinstance(node, n.NotEvaluated):
        return _join([(0, "not evaluated when")], " ", _expr(node.when))
    if isinstance(node, n.TestPeriod):
        return [(0, "period " + node.period)]
    if isinstance(node, n.Row):
        return _bracketed("[", [[(0, _cell(c))] for c in node.cells], "]")
    if isinstance(node, n.Expect):
        return [(0, f"expect {node.entity} {_cell(node.id)} {node.path.dotted} = {_cell(node.value)}")]
    if isinstance(node, n.ExpectError):
        return [(0, "expect error " + _quote(node.message))]
    # A block printed as a line would lose its items; _block handles those.
    raise TypeError(f"cannot format {type(node).__name__}")


def _as_clause(frags: list[Frag]) -> list[Frag]:
    """An expression after `=`: it may move to its own line before it breaks inside."""
    return [(CLAUSE, frags[0][1])] + frags[1:]


def _criterion_head(node: n.Criterion) -> list[Frag]:
    text = _named("criterion", node.locked, node.name, node.label)
    if node.share is not None:
        text += f" {node.share.kind} {_num(node.share.amount)}"
    return [(0, text + " =")] + _as_clause(_expr(node.expr))


def _block(node: object) -> tuple[list[Frag], str]:
    """A block's opening fragments (without `{`) and what follows its `}`."""
    if isinstance(node, n.Input):
        text = _named("input", node.locked, node.name, node.label)
        if node.key is not None:
            text += " key " + node.key
        if node.period_by is not None:
            text += " period by " + node.period_by
        if node.display is not None:
            text += " display " + node.display
        return [(0, text)], ""
    if isinstance(node, n.Scale):
        return [(0, _named("scale", node.locked, node.name, node.label) + " = " + _body_keyword(node.body))], ""
    if isinstance(node, n.Criterion):
        frags = _criterion_head(node)
        assert not isinstance(node.scale, str) and node.scale is not None
        frags = _clause(frags, FORCE, "scored " + _body_keyword(node.scale))
        return frags, (" missing " + node.missing if node.missing is not None else "")
    if isinstance(node, n.Score):
        frags = [(0, _named("score", node.locked, node.name, node.label) + f" for {node.entity}")]
        if node.where is not None:
            frags = frags + [(CLAUSE, "where " + (w := _expr(node.where))[0][1])] + w[1:]
        return _block_opts(frags, node.total, node.missing), ""
    if isinstance(node, n.ExtendBlock):
        text = "extend " + node.target.dotted
        if node.share is not None:
            text += f" {node.share.kind} {_num(node.share.amount)}"
        if node.replace:
            text += " replace"
        return _block_opts([(0, text)], node.total, node.missing), ""
    if isinstance(node, n.Group):
        text = _named("group", node.locked, node.name, node.label)
        if node.share is not None:
            text += f" {node.share.kind} {_num(node.share.amount)}"
        if node.missing is not None:
            text += " missing " + node.missing
        return [(0, text)], ""
    if isinstance(node, n.Rating):
        return [(0, _named("rating", node.locked, node.name, node.label))], ""
    if isinstance(node, n.Rollup):
        text = _named("rollup", node.locked, node.name, node.label) + f" for {node.entity} per {node.per}"
        return [(0, text)], ""
    if isinstance(node, n.Test):
        return [(0, "test " + _quote(node.label))], ""
    if isinstance(node, n.Given):
        return _bracketed(f"given {node.input} [", [[(0, c)] for c in node.columns], "]"), ""
    raise TypeError(f"cannot format {type(node).__name__}")


def _block_opts(frags: list[Frag], total: n.Num | None, missing: str | None) -> list[Frag]:
    if total is not None:
        frags = _clause(frags, CLAUSE, "total " + _num(total))
    if missing is not None:
        frags = _clause(frags, CLAUSE, "missing " + missing)
    return frags


def _body_keyword(body: object) -> str:
    return "bands" if isinstance(body, n.Bands) else "levels"


def _scale_inline(body: object) -> list[Frag]:
    """A scale body that prints on a line (linear, target, pass/fail); bands and levels are blocks."""
    if isinstance(body, n.Linear):
        points = [[(0, f"{_num(p.x)} -> {_num(p.y)}")] for p in body.points]
        frags = _join([(0, "linear")], " ", _bracketed("", points, ""))
        if body.clamp:
            frags = _suffix(frags, " clamp")
        if body.cap is not None:
            frags = _suffix(frags, " cap " + _num(body.cap))
        return frags
    if isinstance(body, n.Target):
        target = body.target.dotted if isinstance(body.target, n.Name) else _num(body.target)
        return [(0, "target " + target + (f" cap {_num(body.cap)}" if body.cap is not None else ""))]
    if isinstance(body, n.PassFail):
        return [(0, f"pass {_num(body.passed)} fail {_num(body.failed)}")]
    raise TypeError(f"cannot format {type(body).__name__}")


def _suffix(frags: list[Frag], text: str) -> list[Frag]:
    depth, last = frags[-1]
    return frags[:-1] + [(depth, last + text)]


def _field_type(t: n.FieldType) -> str:
    if t.base == "enum":
        text = " | ".join(t.values)
    elif t.base == "ref":
        text = f"ref {t.ref}"
    elif t.between and len(t.bounds) == 2:
        text = f"{t.base} between {_num(t.bounds[0].value)} and {_num(t.bounds[1].value)}"
    else:
        text = " ".join([t.base] + [_bound(b) for b in t.bounds])
    return text + ("?" if t.optional else "")


def _bound(b: n.Bound) -> str:
    return f"{b.op} {_num(b.value)}"


# ---------------------------------------------------------------- literals

def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped + '"'


def _num(num: n.Num) -> str:
    """A number as written; one built without its text is printed from its value."""
    if num.text:
        return num.text
    value = num.value * 100 if num.unit == "percent" else num.value
    return decimal_text(value) + ("%" if num.unit == "percent" else "")


def _cell(cell: object) -> str:
    if isinstance(cell, n.Num):
        return _num(cell)
    if isinstance(cell, n.Text):
        return _quote(cell.value)
    if isinstance(cell, n.DateLit):
        return cell.value.isoformat()
    if isinstance(cell, n.Bool):
        return "true" if cell.value else "false"
    if isinstance(cell, n.NoneLit):
        return "none"
    if isinstance(cell, n.Name):
        return cell.dotted
    raise TypeError(f"cannot format {type(cell).__name__}")


# ---------------------------------------------------------------- expressions

# Binding strength, loosest first, following the grammar's expression rules.
_IF, _OR, _AND, _NOT, _CMP, _SUM, _PRODUCT, _UNARY, _ATOM = range(9)


def _prec(e: object) -> int:
    if isinstance(e, n.If):
        return _IF
    if isinstance(e, n.BoolOp):
        return _OR if e.op == "or" else _AND
    if isinstance(e, n.Not):
        return _NOT
    if isinstance(e, (n.Compare, n.InList, n.IsMissing)):
        return _CMP
    if isinstance(e, n.Arith):
        return _SUM if any(op in "+-" for op in e.ops) else _PRODUCT
    if isinstance(e, n.Neg) or (isinstance(e, n.Num) and _num(e).startswith("-")):
        return _UNARY
    return _ATOM


def _expr(e: object, at_least: int = _IF) -> list[Frag]:
    """Fragments of an expression in a place that takes binding strength at_least or tighter."""
    frags = _expr_raw(e)
    if _prec(e) < at_least:
        return _bracketed("(", [frags], ")")
    return frags


def _bracketed(open_: str, items: list[list[Frag]], close: str) -> list[Frag]:
    """open_ item, item, ... close: breaks after the commas, and inside the items, are one level deeper."""
    frags: list[Frag] = [(0, open_)]
    for i, item in enumerate(items):
        item = [(d + 1, t) for d, t in item]
        frags = _join(frags, "", item) if i == 0 else _suffix(frags, ",") + item
    return _suffix(frags, close)


def _expr_raw(e: object) -> list[Frag]:
    if isinstance(e, (n.Num, n.Text, n.DateLit, n.Bool, n.Name, n.NoneLit)):
        return [(0, _cell(e))]
    if isinstance(e, n.Neg):
        return _join([(0, "-")], "", _expr(e.operand, _UNARY))
    if isinstance(e, n.Not):
        return _join([(0, "not")], " ", _expr(e.operand, _NOT))
    if isinstance(e, n.Arith):
        tighter = _prec(e) + 1
        frags = _expr(e.operands[0], tighter) if e.operands else [(0, "")]
        for op, operand in zip(e.ops, e.operands[1:]):
            frags = _join(frags, f" {op} ", _expr(operand, tighter))
        return frags
    if isinstance(e, n.BoolOp):
        tighter = _prec(e) + 1
        frags = _expr(e.operands[0], tighter) if e.operands else [(0, "")]
        for operand in e.operands[1:]:
            more = _expr(operand, tighter)
            frags = frags + [(0, f"{e.op} " + more[0][1])] + more[1:]
        return frags
    if isinstance(e, n.Compare):
        return _join(_expr(e.left, _SUM), f" {e.op} ", _expr(e.right, _SUM))
    if isinstance(e, n.InList):
        items = [_expr(item) for item in e.items]
        return _join(_expr(e.operand, _SUM), " in ", _bracketed("[", items, "]"))
    if isinstance(e, n.IsMissing):
        return _suffix(_expr(e.operand, _SUM), " is not missing" if e.negated else " is missing")
    if isinstance(e, n.If):
        frags = _join([(0, "if")], " ", _expr(e.cond))
        then = _expr(e.then)
        otherwise = _expr(e.otherwise)
        return frags + [(0, "then " + then[0][1])] + then[1:] + [(0, "else " + otherwise[0][1])] + otherwise[1:]
    if isinstance(e, n.Call):
        return _call(e)
    raise TypeError(f"cannot format {type(e).__name__}")


def _call(e: n.Call) -> list[Frag]:
    frags: list[Frag] = [(0, e.func + "(")]
    for i, arg in enumerate(e.args):
        more = [(d + 1, t) for d, t in _expr(arg)]
        frags = _join(frags, "", more) if i == 0 else _suffix(frags, ",") + more
    if e.where is not None:
        frags = _call_clause(frags, "where ", _expr(e.where))
    if e.deduction is not None:
        d = e.deduction
        text = f"less {_num(d.rate)} per {d.per.dotted}"
        if d.cap is not None:
            text += f" at most {_num(d.cap)}"
        frags = frags + [(1, text)]
        if d.unless is not None:
            frags = _call_clause(frags, "unless ", _expr(d.unless))
    return _suffix(frags, ")")


def _call_clause(frags: list[Frag], keyword: str, more: list[Frag]) -> list[Frag]:
    """A clause inside a call's parentheses, starting at a break one level down."""
    more = [(d + 1, t) for d, t in more]
    return frags + [(1, keyword + more[0][1])] + more[1:]
