"""Judging throughput: pairs judged per second by a batch against a TGI-protocol test server.

    python -m benchmarks.judge --turns 60 --concurrency 1,4,16 --ttft 0.2 --rate 50

For each concurrency, a fresh SQLite store gets ``--turns`` voted 2-pane synthetic turns and
the batch (``playground.judging.batch.run_batch``) judges every pair in both orders against
one test server (a separate process) that answers a valid verdict. Reports pairs/s, the
judge requests/s, and the ideal pairs/s the server's own timing allows at that concurrency,
so what the playground adds (prompt building, verdict parsing, store writes) shows as the gap.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.procs import ROOT, _spawn, free_port, wait_until_serving
from playground.backends.registry import make_backend
from playground.judging.batch import BatchProgress, pairs_to_judge, run_batch
from playground.judging.prompts import choose_judge_prompt
from playground.judging.runner import Judge
from playground.settings import ASSETS_DIR
from playground.store.db import VoteFilter, open_store, record_vote, save_turn
from playground.store.synthetic import make_turn
from playground.types import BackendSpec, Vote

VERDICT = json.dumps({"rationale": "Assistant A answers the question directly and correctly.", "winner": "A"})


async def measure(url: str, db: str, turns: int, concurrency: int) -> dict[str, float]:
    """Seed a store, judge every pair, return the timing."""
    store = open_store(db)
    for seed in range(turns):
        record_vote(store, Vote(save_turn(store, make_turn(seed=seed)), "v1:bench", "a"))
    judge = Judge(make_backend(BackendSpec("judge", "Judge", url), 60.0),
                  choose_judge_prompt("pairwise", None, ASSETS_DIR / "judge"), concurrency)
    pairs, skipped, refs = pairs_to_judge(store, VoteFilter(), judge)
    started = time.perf_counter()
    progress = await run_batch(judge, store, pairs, refs, BatchProgress(len(pairs), skipped))
    elapsed = time.perf_counter() - started
    await judge.backend.aclose()
    store.close()
    return {"pairs": progress.done, "seconds": elapsed, "pairs_per_s": progress.done / elapsed,
            "requests_per_s": 2 * progress.done / elapsed}


def main(argv: Sequence[str] | None = None) -> None:
    """Run the measurement and print one row per concurrency."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.judge", description=__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=60)
    p.add_argument("--concurrency", default="1,4,16", help="comma-separated judge concurrencies")
    p.add_argument("--ttft", type=float, default=0.2, help="test server's time to first token, s")
    p.add_argument("--rate", type=float, default=50.0, help="test server's tokens per second")
    args = p.parse_args(argv)
    tokens = len(VERDICT.split())
    per_request = args.ttft + tokens / args.rate
    folder = Path(tempfile.mkdtemp(prefix="bench-judge-"))
    port = free_port()
    popen, _ = _spawn("judge", [sys.executable, "-m", "tests.support.tgi_server", "--port", str(port),
                                "--ttft", str(args.ttft), "--rate", str(args.rate), "--text", VERDICT],
                      ROOT, folder, {})
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/health", popen, time.monotonic() + 30)
        print(f"judge server: {per_request:.2f} s per verdict ({args.ttft} s to first token, {tokens} tokens "
              f"at {args.rate:g}/s); {args.turns} two-pane turns")
        print("| concurrency | pairs | seconds | pairs/s | judge requests/s | ideal pairs/s |")
        print("|---|---|---|---|---|---|")
        for n in (int(c) for c in args.concurrency.split(",")):
            row = asyncio.run(measure(f"http://127.0.0.1:{port}", f"sqlite:///{folder}/c{n}.db", args.turns, n))
            print(f"| {n} | {row['pairs']:.0f} | {row['seconds']:.2f} | {row['pairs_per_s']:.2f} | "
                  f"{row['requests_per_s']:.2f} | {n / (2 * per_request):.2f} |", flush=True)
    finally:
        popen.terminate()
        popen.wait(10)


if __name__ == "__main__":
    main()
