"""What `kpidsl check` accepts, the engine compiles: generated frameworks that check clean never fail to compile."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from kpidsl.engine.execute import EngineError, compile_checked
from kpidsl.pipeline import check_file
from kpidsl.resolve import Loader
from strategies import typed_frameworks

# Each example is checked and compiled (no data, no DuckDB): about a tenth of a second.
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(tmp_path, text: str):
    path = tmp_path / "main.kpi"
    path.write_text(text, encoding="utf-8")
    program, diags = check_file(str(path), Loader())
    return program, [d for d in diags if d.is_error]


@SETTINGS
@given(typed_frameworks())
def test_a_framework_that_checks_clean_compiles(tmp_path_factory, text):
    program, errors = _check(tmp_path_factory.mktemp("gen"), text)
    if errors:
        return  # a cycle or a quota naming a level the drawn rating lacks: refused, nothing to compile
    try:
        compile_checked(program)
    except EngineError as err:  # pragma: no cover - the property's failure
        raise AssertionError(f"checks clean but does not compile: {err}\n\n{text}") from None


def test_most_generated_frameworks_check_clean(tmp_path):
    """The property is only as good as the share of drawn frameworks it gets to compile."""
    clean = []

    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(typed_frameworks())
    def draw(text):
        clean.append(not _check(tmp_path, text)[1])

    draw()
    assert len(clean) >= 10 and sum(clean) >= len(clean) // 2, f"{sum(clean)} of {len(clean)} checked clean"
