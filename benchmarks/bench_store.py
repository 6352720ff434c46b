"""Store benchmark: vote-write latency under concurrent voters, and export time for many votes.

    python -m benchmarks.bench_store                       # SQLite file in a temp dir
    python -m benchmarks.bench_store --db postgresql+psycopg://postgres@127.0.0.1:5432/bench
    python -m benchmarks.bench_store --voters 50 --votes-per-voter 40 --export-votes 100000

Writers each hold their own connection (as separate app replicas would); every vote is
timed from call to durable commit (``record_vote`` returning). The export part bulk-loads
synthetic turns and votes, then times each export format end to end (query + rows + file).
Prints a small Markdown table. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from playground.store import records
from playground.store.db import (
    Store,
    count_votes,
    metadata,
    open_store,
    record_vote,
    save_turn,
    turn_panes,
    turns,
    votes,
)
from playground.store.export import export
from playground.store.synthetic import EPOCH, make_turn
from playground.types import Vote


def bench_votes(url: str, voters: int, per_voter: int, *, shared: bool) -> dict[str, float]:
    """Time ``record_vote`` for ``voters`` threads: one shared Store (one app process) or one Store each."""
    setup = open_store(url, pool_size=10)
    turn_ids = [save_turn(setup, make_turn(seed=s)) for s in range(per_voter)]
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(voters + 1)

    def voter(u: int) -> None:
        own = setup if shared else open_store(url, create=False, pool_size=1)
        mine = []
        barrier.wait()
        for i, turn_id in enumerate(turn_ids):
            t0 = time.perf_counter()
            record_vote(own, Vote(turn_id, f"bench-{u}", "ab"[(u + i) % 2]))
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
        if not shared:
            own.close()

    threads = [threading.Thread(target=voter, args=(u,)) for u in range(voters)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    assert count_votes(setup) >= voters * per_voter
    setup.close()
    q = statistics.quantiles(latencies, n=100)
    return {"median_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * q[94], "p99_ms": 1000 * q[98],
            "votes": len(latencies), "votes_per_s": len(latencies) / wall}


def bulk_load(store: Store, n: int, chunk: int = 5000) -> None:
    """Insert ``n`` voted turns directly (mixed modes, 2-4 panes, multi-turn), in chunks."""
    modes = ("chat", "chat", "tools", "json")
    with store.engine.begin() as conn:
        for start in range(0, n, chunk):
            turn_rows, pane_rows, vote_rows = [], [], []
            for s in range(start, min(n, start + chunk)):
                n_panes = 2 if s % 10 else 4
                turn = make_turn(seed=s, n_panes=n_panes, mode=modes[s % 4], history=s % 3, blind=s % 2 == 0)
                turn_id = str(uuid.uuid4())
                row = records.turn_row(turn)
                row["id"] = turn_id
                turn_rows.append(row)
                pane_rows += [records.pane_row(turn_id, p) for p in turn.panes]
                kind = ("a", "b", "tie", "bothbad")[s % 4] if n_panes == 2 else "ranking"
                ranking = {"a": [[0], [1]], "b": [[1], [0]]}.get(kind, [[0, 1]])
                if kind == "ranking":
                    ranking = [[0], [1, 2], [3]]
                when = EPOCH + timedelta(seconds=s)
                vote_rows.append({"id": str(uuid.uuid4()), "turn_id": turn_id, "user_id": f"user-{s % 500}",
                                  "kind": kind,
                                  "ranking": ranking, "blind": turn.blind, "gold_text": None, "gold_original": None,
                                  "created_at": when, "updated_at": when})
            conn.execute(sa.insert(turns), turn_rows)
            conn.execute(sa.insert(turn_panes), pane_rows)
            conn.execute(sa.insert(votes), vote_rows)


def bench_export(url: str, n: int, out: Path) -> list[tuple[str, int, float]]:
    store = open_store(url)
    t0 = time.perf_counter()
    bulk_load(store, n)
    results = [("bulk load (not export)", n, time.perf_counter() - t0)]
    for kind, fmt in (("dpo", "jsonl"), ("dpo", "parquet"), ("battles", "jsonl"), ("battles", "parquet")):
        t0 = time.perf_counter()
        rows = export(store, out / f"{kind}.{fmt}", kind=kind, fmt=fmt)
        results.append((f"export {kind} {fmt}", rows, time.perf_counter() - t0))
    store.close()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="store URL (default: a fresh SQLite file); PostgreSQL tables are dropped first")
    p.add_argument("--voters", type=int, default=50)
    p.add_argument("--votes-per-voter", type=int, default=40)
    p.add_argument("--export-votes", type=int, default=100_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        tmp_path = Path(tmp)

        def fresh(name: str) -> str:
            if not args.db:
                return f"sqlite:///{tmp_path / name}"
            engine = sa.create_engine(args.db)
            metadata.drop_all(engine)
            engine.dispose()
            return args.db

        v_shared = bench_votes(fresh("votes1.db"), args.voters, args.votes_per_voter, shared=True)
        v_own = bench_votes(fresh("votes2.db"), args.voters, args.votes_per_voter, shared=False)
        e = bench_export(fresh("export.db"), args.export_votes, tmp_path)
    backend = sa.make_url(args.db).get_backend_name() if args.db else "sqlite (WAL, synchronous=FULL)"
    print(f"\nstore: {backend}\n")
    print("| measurement | value |\n|---|---|")
    for name, v in (("one app process (shared Store)", v_shared), ("a connection per voter", v_own)):
        print(f"| vote write, {args.voters} concurrent voters, {name}: median / p95 / p99 "
              f"| {v['median_ms']:.1f} / {v['p95_ms']:.1f} / {v['p99_ms']:.1f} ms |")
        print(f"| vote throughput, {name} ({int(v['votes'])} votes) | {v['votes_per_s']:.0f} votes/s |")
    for name, rows, secs in e:
        print(f"| {name}: {rows} rows from {args.export_votes} votes | {secs:.2f} s |")


if __name__ == "__main__":
    main()
