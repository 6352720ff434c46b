"""Command line export of collected preferences.

    python -m playground.export --db sqlite:///data/playground.db --kind dpo \\
        --format parquet --out dpo.parquet --since 2025-01-01 --mode chat --blind-only

A thin wrapper over ``playground.store.export``; ``--db`` defaults to ``DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from playground.store.db import DEFAULT_URL, VoteFilter, open_store
from playground.store.export import export
from playground.store.filters import parse_moment


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    p = argparse.ArgumentParser(prog="python -m playground.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=os.environ.get("DATABASE_URL", DEFAULT_URL), help="store URL (default: $DATABASE_URL or %(default)s)")
    p.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    p.add_argument("--kind", choices=["dpo", "battles"], default="dpo")
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--since", type=parse_moment, help="first day (or ISO datetime) of vote updates, inclusive")
    p.add_argument("--until", type=lambda s: parse_moment(s, end_of_day=True), help="last day, inclusive (an ISO datetime is exclusive)")
    p.add_argument("--mode", action="append", choices=["chat", "tools", "json"], default=[], help="repeatable")
    p.add_argument("--backend", action="append", default=[], help="keep pairs with a side on this backend id; repeatable")
    p.add_argument("--blind-only", action="store_true", help="only votes cast with names hidden")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the export; print the row count; return the exit status."""
    args = build_parser().parse_args(argv)
    flt = VoteFilter(since=args.since, until=args.until, modes=args.mode, backends=args.backend, blind_only=args.blind_only)
    store = open_store(args.db)
    try:
        n = export(store, args.out, kind=args.kind, fmt=args.format, flt=flt)
    finally:
        store.close()
    print(f"wrote {n} {args.kind} rows to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
