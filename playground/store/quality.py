"""Which votes and pairs an export keeps: one options object, one reason per dropped pair.

``ExportOptions`` holds every choice (scope and quality controls) an export takes, from the
CLI or the Data tab. ``vote_drop_reason`` and ``pair_drop_reason`` are pure rules; the
near-duplicate rule needs the prompts kept so far, held by a ``PromptDeduplicator`` that
lives for one export. Each dropped pair is counted once, under the first rule it fails, in
the order of ``DROP_REASONS``.

Example:
    >>> opts = ExportOptions(min_rank_margin=2)
    >>> pair_drop_reason({"same_context": True, "chosen": [1], "rejected": [2], "rank_margin": 1}, opts)
    'rank_margin'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from datasketch import MinHash, MinHashLSH

from playground.store.db import VoteFilter
from playground.store.judgements import Judgement
from playground.store.pairs import assistant_chars
from playground.types import Mode, TurnRecord, Vote

ExportKind = Literal["dpo", "dpo-mixed-context", "battles", "ai-dpo"]

DROP_REASONS: dict[str, str] = {
    "not_blind": "the vote was cast with model names shown (blind-only export)",
    "excluded_rater": "the rater is on the exclusion list",
    "judge_error": "the judge failed or its output did not parse (no verdict)",
    "inconsistent": "the judge's verdicts in the two orders disagreed (position-swap rule)",
    "tie": "tie: no preference between the two replies",
    "both_bad": "both bad: no preference between the two replies",
    "backend": "neither side ran on a selected backend",
    "mixed_context": "the panes were sent different contexts (see the `dpo-mixed-context` export)",
    "same_context": "the panes shared one context (these pairs are in the `dpo` export)",
    "identical": "chosen and rejected are the same messages",
    "rank_margin": "the two replies are fewer ranking places apart than the minimum margin",
    "length_ratio": "the chosen/rejected length ratio is outside the allowed range",
    "near_duplicate": "the prompt nearly repeats the prompt of an earlier kept vote",
}
SHINGLE = 5  # characters per shingle: short prompts still give enough of them
NUM_PERM = 128
MAX_THRESHOLD = 0.98  # above it, 128 permutations leave LSH fewer than two bands


@dataclass(frozen=True)
class ExportOptions:
    """What an export reads and keeps. Defaults: every vote, every same-context pair.

    Attributes:
        since, until: vote update time, ``until`` exclusive (``filters.export_options`` parses form text).
        modes, backends: only these modes / pairs with a side on these backend ids (empty = all).
        blind_only: only votes cast with names hidden.
        exclude_raters: rater pseudonyms (``v1:…``) whose votes are left out.
        same_context_only: ``dpo``: only pairs whose panes were sent the same system prompt and
            messages (with it off, a mixed pair's ``prompt`` is the chosen pane's context).
        drop_ties: ``battles``: leave out ties and "both bad" (DPO pairs never hold them).
        min_rank_margin: DPO: only pairs at least this many ranking groups apart (1 = all).
        max_length_ratio: DPO: drop pairs whose chosen/rejected length ratio is outside
            ``[1/r, r]`` (characters the models wrote); ``None`` = off.
        dedup_threshold: DPO: drop a vote's pairs when its user prompt has a Jaccard similarity
            (MinHash LSH over character 5-grams) of at least this (≤ 0.98) with an earlier kept vote's; ``None`` = off.
        judge, prompt_version: ``ai-dpo``: only this judge backend id / prompt version (``None`` = all).
        with_human: ``ai-dpo``: also the human ``dpo`` pairs (``source = "human"``); off by default.
    """

    since: datetime | None = None
    until: datetime | None = None
    modes: tuple[Mode, ...] = ()
    backends: tuple[str, ...] = ()
    blind_only: bool = False
    exclude_raters: tuple[str, ...] = ()
    same_context_only: bool = True
    drop_ties: bool = False
    min_rank_margin: int = 1
    max_length_ratio: float | None = None
    dedup_threshold: float | None = None
    judge: str | None = None
    prompt_version: str | None = None
    with_human: bool = False

    def __post_init__(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise ValueError(f"the date range {self.since:%Y-%m-%d %H:%M} … {self.until:%Y-%m-%d %H:%M} is empty")
        if int(self.min_rank_margin) != self.min_rank_margin or self.min_rank_margin < 1:
            raise ValueError(f"minimum rank margin {self.min_rank_margin} must be a whole number ≥ 1 "
                             "(1 keeps every pair)")
        if self.max_length_ratio is not None and not self.max_length_ratio >= 1:
            raise ValueError(f"length ratio {self.max_length_ratio} must be ≥ 1 "
                             "(e.g. 2 keeps pairs up to twice as long)")
        if self.dedup_threshold is not None and not 0 < self.dedup_threshold <= MAX_THRESHOLD:
            raise ValueError(f"near-duplicate threshold {self.dedup_threshold} must be in (0, {MAX_THRESHOLD}] "
                             "(e.g. 0.8)")

    def vote_filter(self) -> VoteFilter:
        """The part of the options the store applies in SQL (the rest is counted per pair)."""
        return VoteFilter(since=self.since, until=self.until, modes=self.modes, backends=self.backends)


def vote_drop_reason(vote: Vote, options: ExportOptions) -> str | None:
    """Why every pair of this vote is left out, or ``None``.

    Example:
        >>> vote_drop_reason(Vote("t", "v1:x", "a"), ExportOptions(exclude_raters=("v1:x",)))
        'excluded_rater'
    """
    if options.blind_only and not vote.blind:
        return "not_blind"
    if vote.user_id in options.exclude_raters:
        return "excluded_rater"
    return None


def judgement_in_scope(j: Judgement, turn: TurnRecord, options: ExportOptions) -> bool:
    """Does the judgement fall in the options' dates (judged at) and modes (as the store's vote filter)?"""
    at = j.created_at
    if at is not None and ((options.since and at < options.since) or (options.until and at >= options.until)):
        return False
    return not options.modes or turn.mode in options.modes


def judgement_drop_reason(j: Judgement, turn: TurnRecord, options: ExportOptions) -> str | None:
    """Why a judgement in scope gives no ``ai-dpo`` pair, or ``None`` (a consistent ``a`` or ``b``).

    Example:
        >>> from playground.store.synthetic import make_turn
        >>> j = Judgement("t", 0, 1, "big", "org/big", "p", "pairwise", "a", "b", "", "", final="inconsistent")
        >>> judgement_drop_reason(j, make_turn(seed=1), ExportOptions())
        'inconsistent'
    """
    if options.blind_only and not turn.blind:
        return "not_blind"
    return {"error": "judge_error", "inconsistent": "inconsistent", "tie": "tie"}.get(j.final)


def length_ratio(row: Mapping[str, Any]) -> float:
    """Chosen over rejected length, in characters the models wrote (an empty side counts as 1).

    Example:
        >>> length_ratio({"chosen": [{"role": "assistant", "content": "abcd"}],
        ...               "rejected": [{"role": "assistant", "content": "ab"}]})
        2.0
    """
    return max(assistant_chars(row["chosen"]), 1) / max(assistant_chars(row["rejected"]), 1)


def pair_drop_reason(row: Mapping[str, Any], options: ExportOptions, kind: ExportKind = "dpo") -> str | None:
    """Why a candidate pair (``pairs.dpo_candidates``) is left out of a DPO export, or ``None``."""
    if options.backends and not {row.get("chosen_backend"), row.get("rejected_backend")} & set(options.backends):
        return "backend"
    if kind == "dpo-mixed-context" and row["same_context"]:
        return "same_context"
    if kind in ("dpo", "ai-dpo") and options.same_context_only and not row["same_context"]:
        return "mixed_context"
    if row["chosen"] == row["rejected"]:
        return "identical"
    if row["rank_margin"] < options.min_rank_margin:
        return "rank_margin"
    r = options.max_length_ratio
    if r is not None and not 1 / r <= length_ratio(row) <= r:
        return "length_ratio"
    return None


def user_text(prompt: Sequence[Mapping[str, str]]) -> str:
    """What the user typed in a prompt, normalised for comparison (lower case, single spaces).

    System prompts and replies are left out: a long shared system prompt would make every
    pair of short questions look alike.

    Example:
        >>> user_text([{"role": "system", "content": "S"}, {"role": "user", "content": "Hi  THERE"}])
        'hi there'
    """
    text = "\n".join(m["content"] for m in prompt if m["role"] == "user")
    return re.sub(r"\s+", " ", text).strip().lower()


def minhash(text: str) -> MinHash:
    """MinHash of the text's character 5-grams (the whole text when shorter)."""
    shingles = {text[i : i + SHINGLE] for i in range(max(len(text) - SHINGLE + 1, 1))}
    m = MinHash(num_perm=NUM_PERM)
    m.update_batch([s.encode() for s in shingles])
    return m


class PromptDeduplicator:
    """Near-duplicate prompts across votes, for one export (datasketch ``MinHashLSH``).

    The first vote with a prompt keeps all its pairs; a later vote whose prompt is a near
    duplicate (estimated Jaccard ≥ ``threshold``, LSH candidates checked) loses them.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._owner: dict[str, tuple[str, MinHash]] = {}  # LSH key -> (vote id, its MinHash)

    def is_duplicate(self, vote_id: str, prompt: Sequence[Mapping[str, str]]) -> bool:
        """True when ``prompt`` nearly repeats a prompt kept for another vote; else keep it."""
        text = user_text(prompt)
        key = f"{vote_id}\x00{text}"
        if key in self._owner:
            return False
        m = minhash(text)
        for other in self._lsh.query(m):
            owner, other_hash = self._owner[other]
            if owner != vote_id and m.jaccard(other_hash) >= self.threshold:
                return True
        self._lsh.insert(key, m)
        self._owner[key] = (vote_id, m)
        return False
