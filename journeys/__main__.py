"""`python -m journeys`: the same as the `journeys` command."""

from journeys.cli import main

main()
