"""Text to lark tree: reading bytes safely, the cached LALR parser, syntax errors as diagnostics."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from kpidsl.cachedir import cache_dir
from kpidsl.diagnostics import Diagnostic
from kpidsl.source import SourceFile
from kpidsl.syntax.lexer import KpiLexer
from kpidsl.syntax.nodes import Comment

# Parsing runs at a few hundred KB a second: 1 MiB keeps the worst case to seconds,
# and is far more than any framework file needs.
MAX_FILE_BYTES = 1024 * 1024
MAX_TREE_DEPTH = 120


@dataclass(frozen=True)
class Parsed:
    """A lark tree and the comments met on the way, or the diagnostic that stopped parsing."""

    source: SourceFile
    tree: Tree | None
    comments: tuple[Comment, ...]
    diagnostics: tuple[Diagnostic, ...]


def grammar_text() -> str:
    """The grammar: shipped inside the package, or from the source tree in development."""
    packaged = resources.files("kpidsl").joinpath("grammar", "kpidsl.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / "kpidsl.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def parser() -> Lark:
    text = grammar_text()
    # lark's own cache keys on the grammar and options; a per-user file keeps
    # a cold `kpidsl check` from rebuilding LALR tables every time.
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = cache_dir()
    cache: str | bool = str(folder / f"grammar-{digest}.lark.cache") if folder else False
    return Lark(
        text,
        parser="lalr",
        lexer=KpiLexer,
        propagate_positions=True,
        maybe_placeholders=True,
        cache=cache,
    )


def decode(path: str, data: bytes) -> tuple[SourceFile, Diagnostic | None]:
    """Bytes to a SourceFile, refusing what is not a reasonable text file."""
    empty = SourceFile(path, "")
    if len(data) > MAX_FILE_BYTES:
        return empty, Diagnostic(
            "KPI007", f"file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}",
            empty.span(0, 0), help="split the framework into several files joined with `use`")
    if b"\x00" in data:
        at = data.index(b"\x00")
        src = SourceFile(path, data[:at].decode("utf-8", "replace"))
        return empty, Diagnostic("KPI006", "file contains a NUL byte; it looks like a binary file",
                                 src.span(len(src.text), len(src.text)),
                                 help="framework files are UTF-8 text; check that the right file was given")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        good = SourceFile(path, data[: err.start].decode("utf-8", "replace"))
        return empty, Diagnostic("KPI005", f"byte 0x{data[err.start]:02x} at offset {err.start} is not valid UTF-8",
                                 good.span(len(good.text), len(good.text)),
                                 help="save the file as UTF-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    return SourceFile(path, text), None


def parse_source(source: SourceFile) -> Parsed:
    """Parse one source file; syntax errors become one diagnostic with a plain-words label."""
    if not source.text.strip():
        return Parsed(source, None, (), (Diagnostic(
            "KPI009", "the file is empty", source.span(0, 0),
            help='a framework starts with a header such as `framework my.unit "Title"`'),))
    deep = _bracket_depth_error(source)
    if deep:
        return Parsed(source, None, (), (deep,))
    lark = parser()
    comments: list[Token] = []
    lark.parser.lexer.comments = comments
    try:
        tree = lark.parse(source.text)
    except UnexpectedInput as err:
        return Parsed(source, None, (), (syntax_diagnostic(source, err),))
    finally:
        lark.parser.lexer.comments = None
    depth_error = _tree_depth_error(source, tree)
    if depth_error:
        return Parsed(source, None, (), (depth_error,))
    return Parsed(source, tree, tuple(_comment(source, t) for t in comments), ())


def _comment(source: SourceFile, token: Token) -> Comment:
    line, column = token.line or 1, token.column or 1   # the lexer places every token
    line_start = source.line_starts[line - 1]
    own_line = not source.text[line_start:token.start_pos].strip()
    return Comment(str(token).rstrip(), line, column, own_line)


_BRACKETS = re.compile(r"[()\[\]{}]")


def _bracket_depth_error(source: SourceFile) -> Diagnostic | None:
    """Refuse absurd nesting before lark builds a tree for it (cheap, no recursion)."""
    depth = 0
    for match in _BRACKETS.finditer(source.text):
        if match.group() in "([{":
            depth += 1
            if depth > MAX_TREE_DEPTH:
                i = match.start()
                return Diagnostic("KPI008", f"brackets nested more than {MAX_TREE_DEPTH} deep",
                                  source.span(i, i + 1), help="split the expression into named measures")
        else:
            depth = max(0, depth - 1)
    return None


def _tree_depth_error(source: SourceFile, tree: Tree) -> Diagnostic | None:
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            start = getattr(node.meta, "start_pos", 0) if isinstance(node, Tree) else 0
            return Diagnostic("KPI008", f"expression nested more than {MAX_TREE_DEPTH} deep",
                              source.span(start, start + 1), help="split the expression into named measures")
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


# ---------------------------------------------------------------- syntax errors in plain words

_WORDS = {
    "NAME": "a name", "STRING": 'a quoted label such as "Khối lượng"', "NUMBER": "a number",
    "PERCENT": "a percentage such as 25%", "DATE": "a date such as 2025-07-01",
    "PERIOD": "a period such as 2025-Q3", "INT": "a whole number", "MINUS": "`-`", "OPTIONAL": "`?`",
}

# The construct a keyword opens, to name where the error is.
_CONSTRUCTS = {
    "FRAMEWORK": "framework header", "INPUT": "input", "MEASURE": "measure", "SCALE": "scale",
    "SCORE": "score", "CRITERION": "criterion", "GROUP": "group", "BONUS": "bonus",
    "PENALTY": "penalty", "RATING": "rating", "ROLLUP": "rollup", "TEST": "test",
    "REQUIRE": "require", "USE": "use", "EXTENDS": "extends", "EXTEND": "extend",
    "QUOTA": "quota", "OVERRIDE": "override", "BANDS": "bands", "LINEAR": "linear scale",
    "GIVEN": "test data", "EXPECT": "expectation", "UNITS": "units", "PEOPLE": "people",
}


def _describe(term: str) -> str:
    if term in _WORDS:
        return _WORDS[term]
    for t in parser().terminals:
        if t.name == term:
            if t.pattern.type == "str":
                return f"`{t.pattern.value}`"
            break
    return term.lower()


def _context(err: UnexpectedToken) -> tuple[str | None, str | None]:
    """The innermost construct being written when the error hit, and its name if known."""
    try:
        stack = err.interactive_parser.parser_state.value_stack
    except AttributeError:
        return None, None
    tokens: list[Token] = []
    for value in stack:
        if isinstance(value, Token):
            tokens.append(value)
    for i in range(len(tokens) - 1, -1, -1):
        construct = _CONSTRUCTS.get(tokens[i].type)
        if construct:
            name = tokens[i + 1] if i + 1 < len(tokens) and tokens[i + 1].type == "NAME" else None
            return construct, (str(name) if name is not None else None)
    return None, None


def _acceptable(err: UnexpectedInput) -> set[str]:
    """What the parser could take here; lark's own `expected` lists every terminal of the lexer state."""
    interactive = getattr(err, "interactive_parser", None)
    if interactive is not None:
        try:
            return {t for t in interactive.accepts() if t != "$END"} or {"$END"}
        except Exception:  # noqa: BLE001 - fall back to lark's wider list
            pass
    return set(getattr(err, "expected", None) or getattr(err, "accepts", None) or ())


def syntax_diagnostic(source: SourceFile, err: UnexpectedInput) -> Diagnostic:
    pos = getattr(err, "pos_in_stream", None) or 0
    if isinstance(err, UnexpectedCharacters):
        ch = source.text[pos] if pos < len(source.text) else ""
        if ch == '"':
            return Diagnostic("KPI002", "this label has no closing quote", source.span(pos, pos + 1),
                              help='close the label with `"` on the same line')
        shown = repr(ch) if not ch.isprintable() or ch.isspace() else f"`{ch}`"
        return Diagnostic("KPI004", f"unexpected character {shown}", source.span(pos, pos + 1),
                          help="names use letters, digits and `_`; labels go in double quotes")
    expected = sorted(_acceptable(err))
    listing = ", ".join(dict.fromkeys(_describe(t) for t in expected))
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        end = len(source.text.rstrip())
        construct = _context(err)[0] if isinstance(err, UnexpectedToken) else None
        where = f" in this {construct}" if construct else ""
        return Diagnostic("KPI003", f"the file ends too early{where}; expected {listing}",
                          source.span(end, end), help="the file may be truncated, or a `}` is missing")
    assert isinstance(err, UnexpectedToken)
    token = err.token
    start = token.start_pos if token.start_pos is not None else pos
    span = source.span(start, max(start + 1, token.end_pos or start + 1))
    construct, name = _context(err)
    where = f" in {construct} `{name}`" if construct and name else (f" in {construct}" if construct else "")
    message = _plain_label(expected, str(token), where)
    return Diagnostic("KPI001", message, span, help=_help_for(expected, construct))


def _plain_label(expected: list[str], got: str, where: str) -> str:
    got_shown = f"`{got}`" if got.strip() else "this"
    if expected == ["EQUAL"] or ("EQUAL" in expected and len(expected) <= 3):
        return f"missing `=`{where} before {got_shown}"
    if expected == ["LBRACE"] or ("LBRACE" in expected and len(expected) <= 3):
        return f"missing `{{`{where} before {got_shown}"
    if expected == ["RBRACE"]:
        return f"missing `}}`{where} before {got_shown}"
    if expected == ["NAME"]:
        return f"expected a name{where}, found {got_shown}"
    if expected == ["COLON"]:
        return f"missing `:` after the field name{where}"
    listing = ", ".join(dict.fromkeys(_describe(t) for t in expected))
    return f"unexpected {got_shown}{where}; expected {listing}"


def _help_for(expected: list[str], construct: str | None) -> str:
    if construct == "criterion" and "EQUAL" in expected:
        return "write `criterion name \"Label\" weight 1/3 = expression`"
    if construct == "measure" and "EQUAL" in expected:
        return "write `measure name for people = expression`"
    if construct in ("framework header", None) and "FRAMEWORK" in expected:
        return 'a framework file starts with `framework my.unit "Title"`'
    if "RBRACE" in expected:
        return "check that every `{` has its `}`"
    return "see docs/language.md for the shape of this construct"
