"""``python3 -m paper [--results DIR] [--out DIR]``: regenerate every figure, table and number.

The build itself is ``ksched.experiments.paper.build_paper``; this file only
finds the template next to it and reports errors as one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m paper", description=__doc__)
    parser.add_argument("--results", type=Path, default=HERE / "results", help="grid results")
    parser.add_argument("--out", type=Path, default=HERE / "build", help="output directory")
    parser.add_argument("--template", type=Path, default=HERE / "paper.md")
    args = parser.parse_args(argv)
    from ksched.experiments.paper import PaperError, build_paper

    try:
        built = build_paper(args.results, args.out, args.template)
    except PaperError as exc:
        print(f"paper: error: {exc}", file=sys.stderr)
        return 2
    print(f"html: {built.html}")
    print(f"markdown: {built.markdown}")
    print(f"figures: {', '.join(str(f) for f in built.figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
