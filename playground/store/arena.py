"""Stored votes -> one battle per pair of panes, with what the leaderboard rates, slices and controls on.

Each battle row names both sides three ways (backend label, model id, configuration), and
carries the turn's mode and category, the display slots the voter saw the two panes in,
and the style features of each side's answer (``style_control.STYLE_FEATURES``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from playground.hermes.modes import MODES, mode_name, placeholders
from playground.hermes.presets import Preset
from playground.store.categories import CATEGORIES, categorise
from playground.store.db import Store, VotedTurn, VoteFilter, iter_votes_with_turns
from playground.store.style_control import STYLE_FEATURES, style_features
from playground.store.votes import battles
from playground.types import PaneOutput, TurnRecord

SLICES = ("all", *(f"mode: {m.name}" for m in MODES), *(f"category: {c}" for c in CATEGORIES))
BATTLE_COLUMNS = ("backend_a", "backend_b", "model_a", "model_b", "config_a", "config_b", "winner", "mode",
                  "category", "slot_a", "slot_b", "judge", "turn_id",
                  *(f"{f}_{side}" for side in "ab" for f in STYLE_FEATURES))


def preset_name(system_prompt: str | None, presets: Sequence[Preset]) -> str:
    """The title of the preset this system prompt was sent from, else ``custom #<hash>``.

    A template preset (``{TOOLS}`` / ``{SCHEMA}``) matches a prompt that starts with the text
    before its placeholder and ends with the text after it (the tools or schema filled in).

    Example:
        >>> presets = [Preset("n", "No system turn", None), Preset("j", "JSON", "Use {SCHEMA} only.", template="json")]
        >>> preset_name(None, presets), preset_name('Use {"type": "object"} only.', presets)
        ('No system turn', 'JSON')
        >>> preset_name("Be terse.", presets)
        'custom #28c733'
    """
    for p in presets:
        if p.system == system_prompt:
            return p.title
        if p.template and p.system is not None and system_prompt is not None:
            head, _, tail = p.system.partition(placeholders()[p.template])
            fits = len(system_prompt) >= len(head) + len(tail)
            if fits and system_prompt.startswith(head) and system_prompt.endswith(tail):
                return p.title
    digest = hashlib.sha256((system_prompt if system_prompt is not None else "\0none").encode()).hexdigest()
    return f"custom #{digest[:6]}"


def answer_text(pane: PaneOutput) -> str:
    """What the voter read as the pane's answer: its reply, then any later assistant replies of a tool loop."""
    return "\n".join([pane.output, *(m.content for m in pane.followup if m.role == "assistant")])


def first_user_message(turn: TurnRecord) -> str:
    """The first user message of the conversation (``""`` if there is none)."""
    return next((m.content for m in turn.messages if m.role == "user"), "")


def battle_frame(items: Iterable[VotedTurn], *, labels: Mapping[str, str] | None = None,
                 presets: Sequence[Preset] = ()) -> pd.DataFrame:
    """One row per pair of panes of every vote (``BATTLE_COLUMNS``), ties included.

    ``backend_*`` are backend labels (``labels`` maps ids to labels; unknown ids stay ids),
    ``model_*`` model ids (the backend id when a backend reported none), ``config_*``
    ``"<backend> · <preset or custom #hash> · <mode>"``; ``slot_*`` the display positions.
    """
    labels = labels or {}
    rows = []
    for vote, turn in items:
        panes = {p.position: p for p in turn.panes}
        order = list(turn.pane_order) or sorted(panes)
        slot = {pos: i for i, pos in enumerate(order)}
        category = categorise(first_user_message(turn), turn.mode)
        mode = mode_name(turn.mode)
        style = {pos: style_features(answer_text(p)) for pos, p in panes.items()}
        for pos_a, pos_b, winner in battles(vote.ranking or (), vote.kind):
            a, b = panes[pos_a], panes[pos_b]
            label_a, label_b = labels.get(a.backend_id, a.backend_id), labels.get(b.backend_id, b.backend_id)
            rows.append([
                label_a, label_b, a.model_id or a.backend_id, b.model_id or b.backend_id,
                f"{label_a} · {preset_name(a.system_prompt, presets)} · {mode}",
                f"{label_b} · {preset_name(b.system_prompt, presets)} · {mode}",
                winner, mode, category, slot.get(pos_a, pos_a), slot.get(pos_b, pos_b), vote.user_id, turn.id,
                *(style[pos_a][f] for f in STYLE_FEATURES), *(style[pos_b][f] for f in STYLE_FEATURES),
            ])
    return pd.DataFrame(rows, columns=list(BATTLE_COLUMNS))


def stored_battles(store: Store, flt: VoteFilter | None = None, *, labels: Mapping[str, str] | None = None,
                   presets: Sequence[Preset] = ()) -> pd.DataFrame:
    """``battle_frame`` of every stored vote matching ``flt``, streamed from the store."""
    return battle_frame(iter_votes_with_turns(store, flt), labels=labels, presets=presets)


def slice_battles(battles: pd.DataFrame, slice_name: str) -> pd.DataFrame:
    """The battles of one slice (``"all"``, ``"mode: <mode>"`` or ``"category: <category>"``).

    Example:
        >>> df = pd.DataFrame({"mode": ["chat", "JSON"], "category": ["math", "other"]})
        >>> [len(slice_battles(df, name)) for name in ("mode: JSON", "category: math", "all")]
        [1, 1, 2]
    """
    kind, _, value = slice_name.partition(": ")
    if kind == "mode":
        return battles[battles["mode"] == value]
    if kind == "category":
        return battles[battles["category"] == value]
    return battles


@dataclass(frozen=True)
class PositionBias:
    """How often the pane shown left (display slot 0) beat the one shown right of it (slot 1).

    Counted over decisive outcomes between those two panes (ties and "both bad" left out);
    ``low``/``high`` is the 95% Wilson score interval; ``rate`` is ``None`` with no outcomes.
    """

    left_wins: int
    decisive: int
    rate: float | None
    low: float | None
    high: float | None


def position_bias(battles_df: pd.DataFrame) -> PositionBias:
    """Left-vs-right win rate over the battles between display slots 0 and 1.

    Example:
        >>> df = pd.DataFrame({"slot_a": [1, 0, 0, 0], "slot_b": [0, 1, 1, 2],
        ...                    "winner": ["model_a", "model_a", "tie", "model_a"]})
        >>> b = position_bias(df)
        >>> b.left_wins, b.decisive, b.rate
        (1, 2, 0.5)
    """
    pair = battles_df[((battles_df["slot_a"] == 0) & (battles_df["slot_b"] == 1))
                      | ((battles_df["slot_a"] == 1) & (battles_df["slot_b"] == 0))]
    decisive = pair[pair["winner"].isin(["model_a", "model_b"])]
    left_side = (decisive["slot_a"] == 0).map({True: "model_a", False: "model_b"})
    wins, n = int((decisive["winner"] == left_side).sum()), len(decisive)
    if n == 0:
        return PositionBias(0, 0, None, None, None)
    from scipy.stats import binomtest  # imported here like ratings._fit: only the Leaderboard tab needs it

    ci = binomtest(wins, n).proportion_ci(confidence_level=0.95, method="wilson")
    return PositionBias(wins, n, wins / n, float(ci.low), float(ci.high))
