"""The import graph: packages follow the pipeline, and no module imports a later stage."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kpidsl"

# Lowest first. A module may import its own layer and the layers before it, never a later one.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("kpidsl", "kpidsl.source", "kpidsl.decimals", "kpidsl.cachedir", "kpidsl.paths", "kpidsl.period", "kpidsl.sql",
     "kpidsl.i18n", "kpidsl.text", "kpidsl.interrupts", "kpidsl.faults"),
    ("kpidsl.diagnostics",),
    ("kpidsl.syntax",),
    ("kpidsl.semantic",),
    ("kpidsl.check",),
    ("kpidsl.plan",),
    ("kpidsl.compile",),
    ("kpidsl.data",),
    ("kpidsl.engine",),
    ("kpidsl.output",),
    ("kpidsl.versions",),
    ("kpidsl.scoring",),
    ("kpidsl.fmt", "kpidsl.check_cache", "kpidsl.check_split", "kpidsl.testing", "kpidsl.pipeline", "kpidsl.api", "kpidsl.cli",
     "kpidsl.__main__"),
)


def layer_of(module: str) -> int:
    """The layer of the longest prefix naming `module`."""
    best = (-1, -1)
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best[1]:
                best = (i, len(name))
    assert best[0] >= 0, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path) -> list[tuple[str, int]]:
    """Every kpidsl module `path` imports, also inside functions, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kpidsl"):
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{a.name}", node.lineno) for a in node.names
                      if f"{node.module}.{a.name}" in modules()]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("kpidsl")]
    return found


def test_no_module_imports_a_later_stage():
    upward = []
    for name, path in modules().items():
        for target, line in imports(path):
            if layer_of(target) > layer_of(name):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name} imports {target}")
    assert not upward, "imports of a later stage:\n" + "\n".join(upward)


def test_the_engine_executes_a_plan_it_is_given():
    """engine/ reads the plan's contract (plan.py), never the compiler that makes plans."""
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target}"
             for name, path in modules().items() if name.startswith("kpidsl.engine")
             for target, line in imports(path) if target.startswith("kpidsl.compile")]
    assert not found, "\n".join(found)


def test_every_module_has_a_layer_and_a_one_line_docstring():
    for name, path in modules().items():
        layer_of(name)
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc and doc.splitlines()[0].strip(), f"{path}: a module says what it is in its first line"


def test_the_check_that_finds_upward_imports_can_fail(tmp_path):
    assert layer_of("kpidsl.compile.planner") > layer_of("kpidsl.semantic.scope")
    assert layer_of("kpidsl.output.tables") > layer_of("kpidsl.plan")
    bad = tmp_path / "bad.py"
    bad.write_text('"""x"""\nfrom kpidsl.output.tables import FORMATS\n', encoding="utf-8")
    assert imports(bad) == [("kpidsl.output.tables", 2)]
