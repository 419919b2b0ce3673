"""Checker pass: locks."""

from __future__ import annotations

from typing import Iterable

from kpidsl.check import CheckContext
from kpidsl.diagnostics import Diagnostic
from kpidsl.resolve import Program


def run(program: Program, ctx: CheckContext) -> Iterable[Diagnostic]:
    return ()
