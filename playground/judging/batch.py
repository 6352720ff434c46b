"""Judge stored turns in batch, resumably, with progress (CLI and the operator's Judge tab).

    python -m playground.judging.batch --db sqlite:///data/playground.db --judge hermes-405b \\
        --judge-prompt pairwise --since 2025-01-01 --mode chat --backend hermes-8b --blind-only

Selects the turns with votes (``--all-turns``: every turn) matching the filter, takes every
pair of panes that finished cleanly (one for 2 panes, all pairs of 3–4), skips the pairs this
judge and prompt version already judged (``judged_pairs``: errors are retried), and judges the
rest, storing each judgement as soon as it is made — so a run that is killed resumes where it
stopped. Backends come from the backends file and ``$HERMES_BACKENDS`` as for the app.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from playground.backends.registry import build_backends
from playground.hermes.modes import mode_ids
from playground.judging.prompts import JudgePromptError, choose_judge_prompt
from playground.judging.runner import Judge, judged_positions
from playground.settings import ASSETS_DIR, SettingsError, load_settings
from playground.store.db import DEFAULT_URL, Store, VoteFilter, get_turn, open_store
from playground.store.filters import parse_moment
from playground.store.judgements import (
    gold_references,
    judged_pairs,
    save_judgement,
    turns_to_judge,
)

Pair = tuple[str, int, int]  # turn id, pos_a, pos_b


@dataclass
class BatchProgress:
    """How far a batch is: pairs to judge, judged so far (by final verdict), skipped as already judged."""

    total: int
    skipped: int
    done: int = 0
    finals: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        """One line of progress.

        Example:
            >>> BatchProgress(4, 2, 1, Counter({"a": 1})).line()
            'judged 1/4 pairs (a 1); 2 already judged, skipped'
        """
        counts = ", ".join(f"{k} {n}" for k, n in sorted(self.finals.items()))
        return (f"judged {self.done}/{self.total} pairs" + (f" ({counts})" if counts else "")
                + f"; {self.skipped} already judged, skipped")


def pairs_to_judge(store: Store, flt: VoteFilter, judge: Judge, *, voted_only: bool = True
                   ) -> tuple[list[Pair], int, dict[str, str]]:
    """The pairs still to judge, how many were skipped as already judged, and gold references by turn.

    A reference-guided prompt keeps only the turns with a gold edit.
    """
    ids = turns_to_judge(store, flt, voted_only=voted_only)
    references = gold_references(store, ids) if judge.prompt.kind == "reference" else {}
    if judge.prompt.kind == "reference":
        ids = [t for t in ids if t in references]
    done = judged_pairs(store, judge.backend_id, judge.prompt.version)
    pairs = [(t, a, b) for t in ids for a, b in judged_positions(get_turn(store, t))]
    todo = [p for p in pairs if p not in done]
    return todo, len(pairs) - len(todo), references


async def run_batch(judge: Judge, store: Store, pairs: Sequence[Pair], references: dict[str, str],
                    progress: BatchProgress, on_progress: Callable[[BatchProgress], None] = lambda p: None,
                    limit: int | None = None) -> BatchProgress:
    """Judge ``pairs`` (at most ``limit``), ``judge.concurrency`` pairs at once, storing each judgement at once."""
    todo = iter(pairs[:limit] if limit is not None else pairs)

    async def worker() -> None:
        for turn_id, pos_a, pos_b in todo:
            turn = await asyncio.to_thread(get_turn, store, turn_id)
            judgement = await judge.judge_pair(turn, pos_a, pos_b, references.get(turn_id))
            saved = await asyncio.to_thread(save_judgement, store, judgement)
            progress.done += 1
            progress.finals[saved.final] += 1
            on_progress(progress)

    await asyncio.gather(*(worker() for _ in range(judge.concurrency)))
    return progress


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (the filter flags as in ``python -m playground.export``)."""
    p = argparse.ArgumentParser(prog="python -m playground.judging.batch", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=os.environ.get("DATABASE_URL", DEFAULT_URL),
                   help="store URL (default: $DATABASE_URL or %(default)s)")
    p.add_argument("--judge", default=None, help="judge backend id (default: $HERMES_JUDGE)")
    p.add_argument("--judge-prompt", default=None, help="preset in assets/judge: pairwise (default), single, reference")
    p.add_argument("--judge-prompt-file", type=Path, help="an edited judge prompt file instead of the preset")
    p.add_argument("--concurrency", type=int, default=None,
                   help="judge requests at once (default: $HERMES_JUDGE_CONCURRENCY or 2)")
    p.add_argument("--backends-file", type=Path, help="TOML backends file (default: as for the app)")
    p.add_argument("--since", type=parse_moment, help="first day (or ISO datetime) of turns, inclusive")
    p.add_argument("--until", type=lambda s: parse_moment(s, end_of_day=True), help="last day, inclusive")
    p.add_argument("--mode", action="append", choices=mode_ids(), default=[], help="repeatable")
    p.add_argument("--backend", action="append", default=[],
                   help="keep turns with a pane on this backend id; repeatable")
    p.add_argument("--blind-only", action="store_true", help="only turns with a blind vote")
    p.add_argument("--all-turns", action="store_true", help="also turns nobody voted on")
    p.add_argument("--limit", type=int, help="judge at most this many pairs in this run (the rest on the next)")
    return p


def judge_from_args(args: argparse.Namespace) -> tuple[Judge, dict[str, object]]:
    """The judge the flags and environment name, and its backends (to close).

    Raises:
        SettingsError: no judge, an unknown backend or preset, a bad prompt file.
    """
    argv = [*(["--backends-file", str(args.backends_file)] if args.backends_file else []),
            *(["--judge", args.judge] if args.judge else []),
            *(["--judge-prompt", args.judge_prompt] if args.judge_prompt else []),
            *(["--judge-prompt-file", str(args.judge_prompt_file)] if args.judge_prompt_file else []),
            *(["--judge-concurrency", str(args.concurrency)] if args.concurrency is not None else [])]
    settings = load_settings(argv)
    if settings.judge is None:
        raise SettingsError("no judge: pass --judge BACKEND_ID (or set $HERMES_JUDGE)")
    try:
        prompt = choose_judge_prompt(settings.judge_prompt, settings.judge_prompt_file, ASSETS_DIR / "judge")
    except JudgePromptError as exc:
        raise SettingsError(str(exc)) from None
    backends = build_backends(settings)
    judge = Judge(backends[settings.judge], prompt, settings.judge_concurrency, timeout_s=settings.request_timeout_s)
    return judge, backends  # type: ignore[return-value]


async def _main(args: argparse.Namespace, judge: Judge, store: Store) -> BatchProgress:
    flt = VoteFilter(since=args.since, until=args.until, modes=tuple(args.mode), backends=tuple(args.backend),
                     blind_only=args.blind_only)
    pairs, skipped, references = await asyncio.to_thread(pairs_to_judge, store, flt, judge,
                                                         voted_only=not args.all_turns)
    progress = BatchProgress(min(len(pairs), args.limit) if args.limit is not None else len(pairs), skipped)
    print(f"{judge.prompt.version} by {judge.backend_id}: {progress.line()}", file=sys.stderr, flush=True)
    return await run_batch(judge, store, pairs, references, progress,
                           lambda p: print(p.line(), file=sys.stderr, flush=True), args.limit)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a batch; progress lines on stderr; return the exit status (2 on bad options)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        judge, backends = judge_from_args(args)
    except SettingsError as exc:
        parser.error(str(exc))
    store = open_store(args.db)

    async def run() -> BatchProgress:
        try:
            return await _main(args, judge, store)
        finally:
            for backend in backends.values():
                await backend.aclose()  # type: ignore[attr-defined]

    try:
        progress = asyncio.run(run())
    finally:
        store.close()
    print(f"done: {progress.line()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
