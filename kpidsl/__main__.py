"""Entry point for `python -m kpidsl`."""

from kpidsl.cli import main

main()
