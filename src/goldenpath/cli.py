"""`goldenpath` command line. Subcommands arrive with the audit and fleet tools."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="goldenpath", description=__doc__)
    parser.parse_args(argv)
    parser.print_help()
    return 0
