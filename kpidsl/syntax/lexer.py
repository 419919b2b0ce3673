"""Tokens: one compiled regex over the grammar's terminals, with soft keywords decided by the parser state.

lark's own lexers spend most of a parse matching terminal by terminal; one
master pattern is several times faster. Keywords stay soft: a word that spells
a keyword becomes that keyword only where the parser can take it, otherwise it
is a NAME (so a field may be called `score` or `period`). The same state test
picks INT and PERIOD over NUMBER where the grammar wants them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from lark import Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer, LexerState
from lark.parsers.lalr_analysis import Shift

_MASTER = re.compile(
    r"""(?P<WS>\s+)
      | (?P<COMMENT>\#[^\n]*)
      | (?P<STRING>"(?:[^"\\\n]|\\["\\nt])*")
      | (?P<DATE>\d{4}-\d{2}-\d{2}(?!\w))
      | (?P<PERIOD>\d{4}-(?:Q[1-4]|\d{2})(?![\w-]))
      | (?P<PERCENT>\d+(?:\.\d+)?%)
      | (?P<NUMBER>\d+(?:\.\d+)?(?![\w.]))
      | (?P<WORD>(?!\d)\w+)
      | (?P<SYMBOL>->|>=|<=|!=|[=<>+\-*/(){}\[\],.:?|])
    """,
    re.VERBOSE,
)
_YEAR = re.compile(r"\d{4}")


def _shiftable(states, state_stack: list, token_type: str) -> bool:
    """Would the parser, from its current state, shift a token of this type (after any reductions)?"""
    stack = list(state_stack)
    while True:
        action = states[stack[-1]].get(token_type)
        if action is None:
            return False
        kind, arg = action
        if kind is Shift:
            return True
        size = len(arg.expansion)
        if size:
            del stack[-size:]
        stack.append(states[stack[-1]][arg.origin.name][1])


class KpiLexer(Lexer):
    """A lark custom lexer (interface 2: it sees the parser state)."""

    __future_interface__ = 2

    def __init__(self, lexer_conf) -> None:
        self.keywords: dict[str, str] = {}
        self.symbols: dict[str, str] = {}
        for term in lexer_conf.terminals:
            if term.pattern.type == "str":
                value = term.pattern.value
                (self.keywords if value.isidentifier() else self.symbols)[value] = term.name
        self.comments: list[Token] | None = None

    def lex(self, lexer_state: LexerState, parser_state) -> Iterator[Token]:
        states = parser_state.parse_conf.states
        return tokens(lexer_state.text.text, self.keywords, self.symbols, parser_state.state_stack, self.comments,
                      lambda stack, kind: _shiftable(states, stack, kind), parser_state)


def tokens(text: str, keywords: dict[str, str], symbols: dict[str, str], state_stack: list,
           comments: list[Token] | None, shiftable: Callable[[list, str], bool],
           parser_state=None) -> Iterator[Token]:
    """The tokens of TEXT for a parser whose live STATE_STACK decides soft keywords (SHIFTABLE says whether
    it would take a token of a kind); comments go to COMMENTS."""
    pos, line, line_start = 0, 1, 0
    end = len(text)
    match = _MASTER.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            raise UnexpectedCharacters(text, pos, line, pos - line_start + 1, state=parser_state)
        kind = m.lastgroup
        assert kind is not None   # every alternative of the pattern is a named group
        value = m.group()
        stop = m.end()
        if kind == "WS":
            newlines = value.count("\n")
            if newlines:
                line += newlines
                line_start = pos + value.rfind("\n") + 1
            pos = stop
            continue
        if kind == "WORD":
            kind = keywords.get(value, "NAME")
            if kind != "NAME" and not shiftable(state_stack, kind) \
                    and shiftable(state_stack, "NAME"):
                kind = "NAME"
        elif kind == "SYMBOL":
            kind = symbols[value]
        elif kind == "NUMBER":
            if not shiftable(state_stack, "NUMBER"):
                if shiftable(state_stack, "INT") and "." not in value:
                    kind = "INT"
                elif _YEAR.fullmatch(value) and shiftable(state_stack, "PERIOD"):
                    kind = "PERIOD"
        elif kind == "PERIOD" and not shiftable(state_stack, "PERIOD"):
            # `2025-09` outside a test's `period` is a number, then a minus.
            kind, value = "NUMBER", value[:4]
            stop = pos + 4
        column = pos - line_start + 1
        token = Token(kind, value, pos, line, column, line, column + (stop - pos), stop)
        if kind == "COMMENT":
            if comments is not None:
                comments.append(token)
        else:
            yield token
        pos = stop
