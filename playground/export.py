"""Command line export of collected preferences, with its dataset card beside the file.

    python -m playground.export --db sqlite:///data/playground.db --kind dpo \\
        --format parquet --out dpo.parquet --since 2025-01-01 --mode chat --blind-only \\
        --min-rank-margin 2 --max-length-ratio 2 --dedup-threshold 0.8 --exclude-raters-file flagged.txt
    python -m playground.export --kind ai-dpo --judge hermes-405b --out ai-dpo.jsonl   # AI feedback, apart

A thin wrapper over ``playground.store.export.export_dataset``; ``--db`` defaults to
``DATABASE_URL``. Tool results are exported in the role each backend was sent them in,
read from the backends file (``tool_response_role``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

from playground.hermes.modes import mode_ids
from playground.settings import DEFAULT_BACKENDS_FILE
from playground.store.db import DEFAULT_URL, open_store
from playground.store.export import export_dataset
from playground.store.filters import parse_moment, rater_list
from playground.store.quality import ExportOptions


def tool_roles(path: Path) -> dict[str, str]:
    """Backend id -> ``tool_response_role`` from a backends file (no URLs or tokens are read).

    Raises:
        ValueError: the file is not valid TOML.
    """
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("backends", [])
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return {str(e["id"]): str(e.get("tool_response_role", "tool")) for e in entries if "id" in e}


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    p = argparse.ArgumentParser(prog="python -m playground.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=os.environ.get("DATABASE_URL", DEFAULT_URL),
                   help="store URL (default: $DATABASE_URL or %(default)s)")
    p.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    p.add_argument("--kind", choices=["dpo", "dpo-mixed-context", "battles", "ai-dpo"], default="dpo",
                   help="dpo: pairs whose panes shared one context; dpo-mixed-context: the others; battles: arena "
                        "records (with judge verdicts); ai-dpo: AI-feedback pairs from an LLM judge's consistent "
                        "verdicts")
    p.add_argument("--out", required=True, help="output file (its card goes beside it: NAME.README.md)")
    p.add_argument("--since", type=parse_moment, help="first day (or ISO datetime) of vote updates, inclusive")
    p.add_argument("--until", type=lambda s: parse_moment(s, end_of_day=True),
                   help="last day, inclusive (an ISO datetime is exclusive)")
    p.add_argument("--mode", action="append", choices=mode_ids(), default=[], help="repeatable")
    p.add_argument("--backend", action="append", default=[],
                   help="keep pairs with a side on this backend id; repeatable")
    p.add_argument("--blind-only", action="store_true", help="only votes cast with names hidden")
    p.add_argument("--exclude-rater", action="append", default=[],
                   help="leave out this rater pseudonym (v1:…); repeatable")
    p.add_argument("--exclude-raters-file", type=Path, help="a file of rater pseudonyms to leave out, one per line")
    p.add_argument("--all-contexts", action="store_true",
                   help="dpo: also pairs whose panes had different contexts (prompt = the chosen pane's)")
    p.add_argument("--drop-ties", action="store_true", help="battles: leave out ties and both-bad (DPO never has them)")
    p.add_argument("--min-rank-margin", type=int, default=1,
                   help="DPO: only pairs this many ranking places apart (default 1: all)")
    p.add_argument("--max-length-ratio", type=float,
                   help="DPO: drop pairs whose chosen/rejected length ratio is outside [1/R, R]")
    p.add_argument("--dedup-threshold", type=float,
                   help="DPO: drop votes whose prompt has Jaccard >= T with an earlier kept one")
    p.add_argument("--judge", help="ai-dpo: only this judge backend id (default: every judge)")
    p.add_argument("--prompt-version", help="ai-dpo: only this judging prompt version (default: every version)")
    p.add_argument("--with-human", action="store_true", help="ai-dpo: also the human DPO pairs (source=human)")
    p.add_argument("--backends-file", type=Path, default=DEFAULT_BACKENDS_FILE,
                   help="for tool_response_role (default: %(default)s)")
    return p


def options_from_args(args: argparse.Namespace) -> ExportOptions:
    """The parsed flags as ``ExportOptions``.

    Raises:
        ValueError: an out-of-range value (the message names it); an unreadable raters file.
    """
    raters = list(args.exclude_rater)
    if args.exclude_raters_file:
        raters += rater_list(args.exclude_raters_file.read_text(encoding="utf-8"))
    return ExportOptions(
        since=args.since, until=args.until, modes=tuple(args.mode), backends=tuple(args.backend),
        blind_only=args.blind_only, exclude_raters=rater_list(raters), same_context_only=not args.all_contexts,
        drop_ties=args.drop_ties, min_rank_margin=args.min_rank_margin, max_length_ratio=args.max_length_ratio,
        dedup_threshold=args.dedup_threshold, judge=args.judge, prompt_version=args.prompt_version,
        with_human=args.with_human,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the export; print what was kept and left out; return the exit status (2 on bad options)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = options_from_args(args)
        roles = tool_roles(args.backends_file) if args.backends_file.exists() else {}
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    store = open_store(args.db)
    try:
        report = export_dataset(store, args.out, kind=args.kind, fmt=args.format, options=options, tool_roles=roles)
    finally:
        store.close()
    dropped = ", ".join(f"{reason} {n}" for reason, n in report.dropped.items() if n) or "nothing"
    read = f"{report.votes} votes" + (f" and {report.judgements} judgements" if args.kind == "ai-dpo" else "")
    print(f"wrote {report.rows} {args.kind} rows to {args.out} from {read}; left out: {dropped}; "
          f"card: {report.card_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
