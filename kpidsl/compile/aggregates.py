"""Aggregates over collections, each one a column of a grouped scan of the rows.

An aggregate over a collection is added to the *scan* of that collection and owner
(one GROUP BY over the rows) and read back by joining the scan on the owner's `_e`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kpidsl.compile import columns as C
from kpidsl.compile.frame import SELF, SOURCE, Anchor, CompileError, Scope, work_table
from kpidsl.compile.names import Coll, Column, Ent, Impure
from kpidsl.compile.relation import Rel
from kpidsl.compile.values import V, _deps
from kpidsl.semantic.walk import walk
from kpidsl.sql import decimal as D
from kpidsl.sql.quoting import Params, ident, qualified
from kpidsl.syntax import nodes as n


@dataclass
class Scan:
    """One grouped pass over a collection for one kind of owner, computing every aggregate asked of it."""

    key: tuple
    table: str
    rel: Rel
    coll: Coll
    group: str                          # the group key, readable in the top layer
    mode: str                           # input | entity | periods
    shared: bool                        # computed once, up front (reads only input rows)
    aggs: dict[tuple, tuple[str, str]] = field(default_factory=dict)   # key -> (column, kind)
    select: list[str] = field(default_factory=list)
    top_filter: list[str] = field(default_factory=list)
    owner_base: str = ""
    rules: list = field(default_factory=list)

    def sql(self) -> str:
        cols = ", ".join(self.select) or "count(*) AS \"n\""
        where = f"WHERE {' AND '.join(self.top_filter)} " if self.top_filter else ""
        if self.mode in ("input", "periods"):
            inner = self.rel.sql(f"{self.group} AS \"_k\", {cols}", f"{where}GROUP BY 1")
            return (f'SELECT o."_e" AS "_owner", g.* EXCLUDE ("_k") FROM ({inner}) AS g '
                    f'JOIN {self.owner_base} AS o ON o."id" = g."_k"')
        return self.rel.sql(f"{self.group} AS \"_owner\", {cols}", f"{where}GROUP BY 1")


class Aggregates:
    """Compiles `count`, `sum`, `mean`, `min`, `max` and `share` into scans.

    Mixed into `ExprCompiler`, which compiles the row expressions and keeps the `shared` and `attached` scans.
    """

    # ------------------------------------------------------------ aggregates
    def aggregate(self, e: n.Call, s: Scope, stats: bool = False) -> tuple[V, V | None, V | None]:
        """An aggregate's value, read from its scan; with `stats`, also rows considered and rows matched."""
        func = e.func
        arg = e.args[0] if e.args else None
        coll, rest = self._collection(arg, s, e)
        if e.deduction is not None and func not in ("sum", "mean"):
            raise CompileError(f"a deduction applies to `sum` or `mean`, not `{func}`", e.deduction.span)
        for attempt in ("shared", "attached"):
            scan = self.scan_for(coll, s, attempt)
            if scan is None:
                continue
            saved = (scan.rel.copy(), dict(scan.aggs), list(scan.select))
            try:
                cols = self._agg_columns(e, func, arg, coll, rest, scan, s, stats)
                break
            except Impure:
                scan.rel, scan.aggs, scan.select = saved
                continue
        else:  # pragma: no cover - the attached scan always accepts
            raise CompileError("cannot compute this aggregate", e.span)
        alias = s.rel.join(("scan", scan.table, coll.anchor.sql), scan.table,
                           f'{{a}}."_owner" = {coll.anchor.sql}', "a")
        reads = {}
        for key, (column, kind) in cols.items():
            local = s.rel.pull(alias, column, f"{alias}.{column}")
            # A sum of a number field is DECIMAL(38,10): every number is read as DECIMAL(38,12).
            sql = D.dec(ident(local)) if kind == "dec" else ident(local)
            reads[key] = V(sql, kind, frozenset({local}), simple=kind != "dec")
        value = self._agg_value(func, reads, s)
        if not stats:
            return value, None, None
        total = V(f"coalesce({reads['total'].sql}, 0)", "int", reads["total"].deps)
        matched = V(f"coalesce({reads['matched'].sql}, 0)", "int", reads["matched"].deps)
        return value, total, matched

    def _collection(self, arg: n.Node | None, s: Scope, e: n.Call) -> tuple[Coll, tuple[str, ...]]:
        if isinstance(arg, n.Name):
            target = self.name(arg, s)
            if isinstance(target, Coll):
                return replace(target, path=arg.parts), ()
            if isinstance(target, Column):
                return replace(target.coll, path=arg.parts[:len(arg.parts) - len(target.rest)]), target.rest
        elif arg is not None:
            for node in _names_in(arg):
                if self.a.type_of(node).kind == "column":
                    target = self.name(node, s)
                    if isinstance(target, Column):
                        prefix = node.parts[:len(node.parts) - len(target.rest)]
                        return replace(target.coll, path=prefix), ("*",)
        raise CompileError(f"`{e.func}` needs a collection, such as `tasks` or `members`", e.span)

    def scan_for(self, coll: Coll, consumer: Scope, attempt: str) -> Scan | None:
        if attempt == "shared" and coll.kind != "input":
            return None
        key = (coll.kind, coll.source, coll.narrow, coll.owner)
        if attempt == "shared":
            table = self.shared.get(key)
            if table is None:
                table = self._new_scan(coll, key, shared=True)
                self.shared[key] = table
            return table
        key = key + (consumer.rel.uid,)
        table = self.attached.get(key)
        if table is None:
            table = self._new_scan(coll, key, shared=False)
            self.attached[key] = table
            self.on_attached(table, consumer)
        return table

    def on_attached(self, scan: Scan, consumer: Scope) -> None:
        """Called when a scan must run before the stage that reads it (set by the plan compiler)."""
        raise NotImplementedError

    def _new_scan(self, coll: Coll, key: tuple, shared: bool) -> Scan:
        number = len(self.shared) + len(self.attached) + 1
        table = work_table(f"{self.tag}scan:{number}")
        params = Params("q")
        owner_base = self.frame(coll.owner).base
        if coll.kind == "input":
            inp = self.p.inputs[coll.source]
            owner_input = self.names.entity_input(coll.owner)
            refs = [f for f in inp.fields if f.type.base == "ref" and owner_input and f.type.ref == owner_input.name]
            if len(refs) != 1:
                raise CompileError(f"input `{inp.name}` refers to {coll.owner} through {len(refs)} fields; "
                                   "the rows of a person or unit are unclear", inp.span)
            rel = Rel(qualified(SOURCE, inp.name), params, frozenset(f.name for f in inp.fields) | {"_row"})
            rel.reads.add(qualified(SOURCE, inp.name))
            return Scan(key, table, rel, coll, ident(refs[0].name), "input", shared, owner_base=owner_base)
        if coll.kind == "periods":
            if self.periods_table is None:
                raise CompileError("`periods` is only known in a roll-up")
            rel = Rel(self.periods_table, params, frozenset({"id", "score", "rating", "status", "score_name"}))
            rel.reads.add(self.periods_table)
            return Scan(key, table, rel, coll, ident("id"), "periods", False, owner_base=owner_base)
        fr = self.frame(coll.source)
        rel = Rel(fr.base, params, fr.base_cols)
        rel.reads.add(fr.base)
        group = {"members": "_unit_e", "leaders": "_unit_e", "children": "_parent_e"}[coll.kind]
        scan = Scan(key, table, rel, coll, ident(group), "entity", False, owner_base=owner_base)
        scan.top_filter.append(f"{ident(group)} IS NOT NULL")
        if coll.kind == "leaders":
            scan.top_filter.append(ident("_leader"))
        return scan

    def _row_scope(self, scan: Scan, consumer: Scope) -> Scope:
        coll = scan.coll
        if coll.kind == "input":
            owner = None
            if not scan.shared:
                alias = scan.rel.join(("owner",), scan.owner_base, f'{{a}}."id" = b.{scan.group}', "o")
                owner = Anchor(alias, "_e")
            return Scope(scan.rel, "input", None, input=coll.source, prefix=coll.path, outer=consumer,
                         owner=owner, pure=scan.shared)
        if coll.kind == "periods":
            alias = scan.rel.join(("owner",), scan.owner_base, '{a}."id" = b."id"', "o")
            return Scope(scan.rel, "periods", coll.owner, prefix=coll.path, outer=consumer,
                         owner=Anchor(alias, "_e"), pure=False)
        group = "_unit_e" if coll.kind in ("members", "leaders") else "_parent_e"
        return Scope(scan.rel, "entity", coll.source, narrow=coll.narrow, prefix=coll.path, outer=consumer,
                     owner=Anchor("b", group), pure=False)

    def _agg_columns(self, e: n.Call, func: str, arg, coll: Coll, rest: tuple[str, ...], scan: Scan,
                     consumer: Scope, stats: bool) -> dict[str, tuple[str, str]]:
        row = self._row_scope(scan, consumer)
        if coll.narrow is not None:
            on = self.read(row, coll.source, SELF, C.score(coll.narrow, "on"), e)
            if on.sql not in scan.top_filter:
                scan.top_filter.append(on.sql)
        key_base = (func, arg, e.where, e.deduction)
        wanted: dict[str, tuple[str, str]] = {}
        where = None
        if e.where is not None:
            w = self.expr(e.where, row)
            where = self.lift(row.rel, w, "w") if not w.simple else w

        def agg(tag: str, sql_fn: str, kind: str) -> None:
            key = key_base + (tag,)
            found = scan.aggs.get(key)
            if found is None:
                column = f"a{len(scan.aggs)}"
                scan.aggs[key] = (column, kind)
                scan.select.append(f"{sql_fn} AS {ident(column)}")
                found = scan.aggs[key]
            wanted[tag] = found

        filt = f" FILTER (WHERE {where.sql})" if where is not None else ""
        value = None
        if rest:
            value = self.expr(arg, row) if rest == ("*",) else self._row_path(row, rest, e)
        if e.deduction is not None:
            value = self._deduct(value, e.deduction, row, e)
        if value is not None:
            if value.kind not in ("int", "dec", "date", "null") and func != "count":
                raise CompileError(f"`{func}` needs numbers", e.span)
            value = value if value.simple else self.lift(row.rel, value, "v")
        if func == "count":
            agg("value", f"count({value.sql if value is not None else '*'}){filt}", "int")
        elif func == "share":
            if where is None:
                agg("value", "count(*)", "int")
            else:
                agg("value", f"count(*){filt}", "int")
            agg("rows", "count(*)", "int")
        elif value is None:
            raise CompileError(f"`{func}` needs a column, such as `tasks.coefficient`", e.span)
        else:
            summed = value.sql
            if func in ("sum", "mean"):
                agg("value", f"sum({summed}){filt}", "int" if value.kind == "int" else "dec")
                if func == "mean":
                    agg("rows", f"count({value.sql}){filt}", "int")
            else:
                agg("value", f"{func}({summed}){filt}", value.kind)
        if stats:
            agg("total", "count(*)", "int")
            agg("matched", f"count(*){filt}", "int")
        return wanted

    def _row_path(self, row: Scope, rest: tuple[str, ...], e: n.Node) -> V:
        target = ("row", row)
        for part in rest:
            target = self._member(target, part, row, e)
        if isinstance(target, Ent):
            # `count(members.unit)`: the rows whose related unit exists.
            return self.anchor_value(row, target.anchor)
        if not isinstance(target, V):
            raise CompileError("an aggregate needs one value per row", e.span)
        return target

    def _deduct(self, value: V | None, d: n.Deduction, row: Scope, e: n.Call) -> V:
        """value x (1 - min(cap, rate x per)), unless the waiver holds; exact, without rounding each row."""
        if value is None:
            raise CompileError("a deduction needs a column to reduce, such as `tasks.coefficient`", e.span)
        per = self.expr(d.per, row)
        if per.kind not in ("int", "dec"):
            raise CompileError("`per` must name a number of each row", d.per.span)
        rate = self.number(row.rel, d.rate.value)
        cap = self.number(row.rel, d.cap.value) if d.cap is not None else self.param(row.rel, 1, "int")
        # A row without a count has nothing to deduct.
        per = V(f"coalesce({per.sql}, 0)", per.kind, per.deps, scale=per.scale)
        lower, upper = self.common([cap, self.multiply(rate, per)])
        least = V(f"least({lower.sql}, {upper.sql})", lower.kind, lower.deps | upper.deps, scale=lower.scale)
        factor = self.add(self.param(row.rel, 1, "int"), least, "-")
        reduced = self.multiply(value, factor)
        if d.unless is not None:
            waived = self.expr(d.unless, row)
            kept, cut = self.common([value, reduced])
            return V(f"(CASE WHEN coalesce({waived.sql}, FALSE) THEN {kept.sql} ELSE {cut.sql} END)",
                     "dec", _deps([waived, kept, cut]), scale=kept.scale)
        return reduced

    def _agg_value(self, func: str, reads: dict[str, V], s: Scope) -> V:
        value = reads["value"]
        if func in ("count", "sum"):
            zero = "0" if value.kind == "int" else D.dec("0")
            return V(f"coalesce({value.sql}, {zero})", value.kind, value.deps)
        if func == "mean":
            return self.divide(s.rel, value, reads["rows"])
        if func == "share":
            return self.divide(s.rel, value, reads["rows"])
        return self.as_dec(value) if value.kind == "dec" else value


def _names_in(e: n.Node):
    for node in walk(e):
        if isinstance(node, n.Name):
            yield node
