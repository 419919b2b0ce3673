"""The table of diagnostic codes: each stable code, its default severity and title."""

from __future__ import annotations

ERROR = "error"
WARNING = "warning"

# code -> (severity, short title). Codes are stable: never renumber or reuse one.
CODES: dict[str, tuple[str, str]] = {
    # reading and parsing
    "KPI001": (ERROR, "syntax error"),
    "KPI002": (ERROR, "unterminated string"),
    "KPI003": (ERROR, "unexpected end of file"),
    "KPI004": (ERROR, "unexpected character"),
    "KPI005": (ERROR, "file is not valid UTF-8"),
    "KPI006": (ERROR, "file contains NUL bytes"),
    "KPI007": (ERROR, "file too large"),
    "KPI008": (ERROR, "nesting too deep"),
    "KPI009": (ERROR, "empty file"),
    "KPI010": (ERROR, "cannot read file"),
    # files, use and extends
    "KPI011": (ERROR, "used file not found"),
    "KPI012": (ERROR, "file uses itself"),
    "KPI013": (ERROR, "unknown framework to extend"),
    "KPI014": (ERROR, "duplicate framework id"),
    "KPI015": (ERROR, "too many files"),
    "KPI016": (ERROR, "use reaches outside the framework root"),
    "KPI017": (ERROR, "not a framework file"),
    # names
    "KPI020": (ERROR, "unknown name"),
    "KPI021": (ERROR, "duplicate name"),
    "KPI022": (ERROR, "unknown field"),
    "KPI023": (ERROR, "unknown level"),
    "KPI024": (ERROR, "collection referred to through several fields"),
    "KPI025": (ERROR, "result a roll-up does not have"),
    "KPI026": (ERROR, "people or units without a key"),
    "KPI027": (ERROR, "leader condition reads more than fields"),
    # types
    "KPI030": (ERROR, "type mismatch"),
    "KPI031": (ERROR, "weights and points mixed"),
    "KPI032": (ERROR, "invalid literal"),
    "KPI033": (ERROR, "wrong number of arguments"),
    "KPI034": (ERROR, "aggregate reads outside its rows"),
    # weights and points
    "KPI040": (ERROR, "weights do not sum to 100%"),
    "KPI041": (ERROR, "points do not sum to the budget"),
    "KPI042": (ERROR, "missing weight or points"),
    # scales
    "KPI050": (ERROR, "bands overlap"),
    "KPI051": (ERROR, "bands leave a gap"),
    "KPI052": (ERROR, "bands out of order"),
    "KPI053": (ERROR, "band unreachable"),
    "KPI054": (ERROR, "linear scale not monotone"),
    "KPI055": (ERROR, "invalid scale"),
    # ratings
    "KPI060": (ERROR, "rating thresholds out of order"),
    "KPI061": (ERROR, "quota names an unknown level"),
    "KPI062": (ERROR, "rating without a fallback level"),
    "KPI063": (ERROR, "quota on a rating decided along the unit tree"),
    "KPI064": (ERROR, "levels of two ratings that do not fit one order"),
    # graph
    "KPI070": (ERROR, "reference cycle"),
    # extends, locks and constraints
    "KPI080": (ERROR, "locked item changed"),
    "KPI081": (ERROR, "central constraint broken"),
    "KPI082": (ERROR, "nothing to extend"),
    # missing values
    "KPI090": (ERROR, "value may be missing without a policy"),
    # tests
    "KPI095": (ERROR, "invalid test data"),
    "KPI096": (ERROR, "test expectation not met"),
    "KPI097": (ERROR, "cannot be scored"),
    # lints
    "KPI100": (WARNING, "unused input"),
    "KPI101": (WARNING, "unused scale"),
    "KPI102": (WARNING, "unused measure"),
    "KPI103": (WARNING, "unused rating"),
    # KPI104 and KPI105 are kept for version timelines.
    "KPI106": (WARNING, "score never applies"),
}


UNREADABLE = frozenset({"KPI005", "KPI006", "KPI007", "KPI010"})
"""Codes that say a file could not be read at all: an input error (exit 2), not a finding in the framework."""


def severity_of(code: str) -> str:
    return CODES[code][0]


def title_of(code: str) -> str:
    return CODES[code][1]
