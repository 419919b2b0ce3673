"""Entry point for `python -m kpidsl`."""

from kpidsl.cli import main

main(prog_name="kpidsl")
