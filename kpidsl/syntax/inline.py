"""Text to AST in one pass: lark's LALR tables driven here, each rule lowered as it is reduced.

Building lark's tree, propagating positions through it and walking it again
to lower it cost about two thirds of a parse. This driver runs the same
parse tables and calls the same lowering methods (kpidsl/syntax/lower.py) at
each reduction, with the positions lark would have propagated computed from
the tokens. Whatever is not the plain case goes the tree way, so every
diagnostic is the one it has always been: a syntax error, a tree nested too
deep, an empty file, brackets nested too deep.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import lru_cache, partial
from typing import Any

from lark import Token
from lark import __version__ as lark_version
from lark.parse_tree_builder import maybe_create_child_filter
from lark.parsers.lalr_analysis import Shift

from kpidsl.cachedir import cache_dir
from kpidsl.diagnostics import Diagnostic
from kpidsl.source import SourceFile
from kpidsl.syntax import nodes as n
from kpidsl.syntax.lexer import KpiLexer, tokens
from kpidsl.syntax.lower import _Lower, lower
from kpidsl.syntax.parser import (
    MAX_TREE_DEPTH,
    _bracket_depth_error,
    _comment,
    grammar_text,
    parse_source,
    parser,
)


class _Meta:
    """What lark's propagated `meta` gives a lowering method: the rule's extent, or empty."""

    __slots__ = ("empty", "start_pos", "end_pos")

    def __init__(self, start: int | None, end: int | None) -> None:
        self.empty = start is None
        self.start_pos = start
        self.end_pos = end


class _Splice:
    """An inlined rule (`_name`): its children go into the parent's, as lark expands them."""

    __slots__ = ("entries",)

    def __init__(self, entries: list) -> None:
        self.entries = entries


# Bumped whenever the shape of the kept tables changes.
_TABLES_FORMAT = 2


class _Tables:
    """lark's parse table in the form the driver reads, each rule's reduction prepared once.

    Row of a state, per token or rule name: a shift as (None, next state); a one-child rule that passes its
    child up unchanged as (True, rule name); any other reduction as [size, rule name, kept children,
    trailing placeholders, collapses to one child, lowering method, inlined], one list per rule shared by
    every row that reduces by it. Kept in the per-user cache folder, so a cold check neither builds lark's
    parser object nor reads the grammar's own cache; the methods are named there and found on loading.
    """

    def __init__(self, start: int, end: int, rows: dict[int, dict[str, Any]], reductions: list[list],
                 keywords: dict[str, str], symbols: dict[str, str]) -> None:
        self.start_state, self.end_state = start, end
        self.rows, self.reductions, self.keywords, self.symbols = rows, reductions, keywords, symbols

    @classmethod
    def from_lark(cls) -> _Tables:
        lark = parser()
        table = lark.parser.parser.parser.parse_table
        reductions = {rule: _reduction(rule) for rule in lark.rules}
        rows: dict[int, dict[str, Any]] = {}
        for state, actions in table.states.items():
            row = rows[state] = {}
            for kind, (action, arg) in actions.items():
                if action is Shift:
                    row[kind] = (None, arg)
                    continue
                reduction = reductions[arg]
                size, origin, include, trailing, expand1 = reduction[:5]
                passes = size == 1 and expand1 and include == ((0, False, 0),) and not trailing
                row[kind] = (True, origin) if passes else reduction
        lexer: KpiLexer = lark.parser.lexer
        return cls(table.start_states["start"], table.end_states["start"], rows, list(reductions.values()),
                   lexer.keywords, lexer.symbols)

    def with_methods(self) -> _Tables:
        """The same tables with each reduction's method name replaced by the lowering function."""
        for reduction in self.reductions:
            name = reduction[5]
            if isinstance(name, str):
                # None for a `?rule` that always collapses to its one child; called, it falls to the tree way
                method = getattr(_Lower, name, None)
                reduction[5] = getattr(method, "base_func", method)   # past lark's v_args wrapper
        return self


def _reduction(rule: Any) -> list:
    options = rule.options
    found = maybe_create_child_filter(rule.expansion, options.keep_all_tokens, False, options.empty_indices)
    if found is None:   # every child kept as it is
        include, trailing = [(i, False, 0) for i in range(len(rule.expansion))], 0
    elif len(found.args) == 1:   # no placeholders in this rule
        include, trailing = [(i, expand, 0) for i, expand in found.args[0]], 0
    else:
        include, trailing = found.args
    name = rule.alias or options.template_source or rule.origin.name
    expand1 = bool(options.expand1 and not rule.alias)
    inlined = name.startswith("_")
    return [len(rule.expansion), rule.origin.name, tuple(include), trailing, expand1,
            None if inlined else name, inlined]


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    text = grammar_text()
    digest = hashlib.sha256(f"{text}\0{lark_version}\0{_TABLES_FORMAT}".encode()).hexdigest()[:16]
    folder = cache_dir()
    path = folder / f"inline-{digest}.pickle" if folder else None
    if path is not None:
        try:
            with open(path, "rb") as fh:
                # the folder is this user's and no one else may write to it (cache_dir), as for lark's tables
                tables = pickle.load(fh)
            if isinstance(tables, _Tables):
                return tables.with_methods()
        except Exception:  # noqa: BLE001 - missing, unreadable or stale: built again below
            pass
    tables = _Tables.from_lark()
    if path is not None:
        try:
            scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(scratch, "wb") as fh:
                pickle.dump(tables, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(scratch, path)
        except OSError:
            pass
    return tables.with_methods()


def _shiftable(rows: dict[int, dict[str, Any]], state_stack: list, kind: str) -> bool:
    """Would the parser, from its current state, shift a token of KIND (after any reductions)?"""
    action = rows[state_stack[-1]].get(kind)
    if action is None or action[0] is None:   # most questions are answered by the top state alone
        return action is not None
    stack = list(state_stack)
    while True:
        action = rows[stack[-1]].get(kind)
        if action is None:
            return False
        first = action[0]
        if first is None:
            return True
        size = 1 if first is True else first
        del stack[-size:]
        stack.append(rows[stack[-1]][action[1]][1])


class _TreeWay(Exception):
    """This file takes the tree way (nested too deep for the inline depth test to say where)."""


def parse_and_lower(source: SourceFile) -> tuple[n.Framework | None, tuple[Diagnostic, ...]]:
    """The AST of one source file and its diagnostics, exactly as `lower(parse_source(source))` gives them."""
    if not source.text.strip() or _bracket_depth_error(source) is not None:
        return lower(parse_source(source))
    try:
        return _inline(source)
    except Exception:  # noqa: BLE001 - a syntax error or anything unusual: the tree way says it exactly
        return lower(parse_source(source))


def _reducer(tables: _Tables, builder: _Lower, state_stack: list, value_stack: list):
    """The reduction step of one parse: pops a rule's children, lowers them, pushes the result and its extent."""
    rows = tables.rows
    blank = (None, None, None, None)

    def reduce(reduction: list) -> None:
        size, origin, include, trailing, expand1, method, inlined = reduction
        if size:
            s = value_stack[-size:]
            del state_stack[-size:]
            del value_stack[-size:]
        else:
            s = []
        start = end = None
        for entry in s:
            if entry[1] is not None:
                start = entry[1]
                break
        for entry in reversed(s):
            if entry[2] is not None:
                end = entry[2]
                break
        kept: list[tuple] = []
        for i, expand, nones in include:
            if nones:
                kept.extend([blank] * nones)
            if expand:
                kept.extend(s[i][0].entries)
            else:
                kept.append(s[i])
        if trailing:
            kept.extend([blank] * trailing)
        if expand1 and len(kept) == 1:
            only = kept[0]
            # a token passes up unchanged, as lark passes it; a subtree takes this rule's extent
            entry = only if only[3] is None else (only[0], start, end, only[3])
        elif inlined:
            entry = (_Splice(kept), start, end, 0)
        else:
            height = 1
            for k in kept:
                if k[3] is not None and k[3] >= height:
                    height = k[3] + 1
            if height > MAX_TREE_DEPTH:
                raise _TreeWay
            entry = (method(builder, _Meta(start, end), [k[0] for k in kept]), start, end, height)
        state_stack.append(rows[state_stack[-1]][origin][1])
        value_stack.append(entry)

    return reduce


def _inline(source: SourceFile) -> tuple[n.Framework | None, tuple[Diagnostic, ...]]:
    tables = _tables()
    rows, end_state = tables.rows, tables.end_state
    builder = _Lower(source)
    terminal_calls = {"STRING": builder.STRING, "DATE": builder.DATE}
    comments: list[Token] = []
    state_stack = [tables.start_state]
    # One entry per stack place: (value, start, end, height); start is None where lark's meta is empty,
    # height is None for what lark keeps as a token (or a placeholder) and the tree's height otherwise.
    value_stack: list[tuple] = []
    reduce = _reducer(tables, builder, state_stack, value_stack)

    shiftable = partial(_shiftable, rows)
    for token in tokens(source.text, tables.keywords, tables.symbols, state_stack, comments, shiftable):
        kind = token.type
        while True:
            state = state_stack[-1]
            action = rows[state][kind]   # KeyError: a syntax error, said the tree way
            first = action[0]
            if first is None:
                state_stack.append(action[1])
                call = terminal_calls.get(kind)
                value_stack.append((call(token) if call else token, token.start_pos, token.end_pos, None))
                break
            if first is True:   # a one-child rule such as `?atom: sum_expr`: only the state changes
                state_stack[-1] = rows[state_stack[-2]][action[1]][1]
            else:
                reduce(action)
    while state_stack[-1] != end_state:
        state = state_stack[-1]
        action = rows[state]["$END"]
        if action[0] is True:
            state_stack[-1] = rows[state_stack[-2]][action[1]][1]
        else:
            reduce(action)
    framework = value_stack[-1][0]
    remembered = tuple(_comment(source, t) for t in comments)
    framework = n.Framework(**{**framework.__dict__, "comments": remembered})
    return framework, tuple(builder.diagnostics)
