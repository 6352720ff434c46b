"""The Leaderboard tab: Bradley–Terry and style-controlled ratings with 95% intervals, per slice,
for backends, model ids or configurations; Hermes conformance per model; left/right position bias."""

from __future__ import annotations

from typing import Any, Literal

import gradio as gr
import pandas as pd

from playground.hermes.presets import Preset, load_presets
from playground.settings import Settings
from playground.store.arena import (
    SLICES,
    PositionBias,
    position_bias,
    slice_battles,
    stored_battles,
)
from playground.store.conformance import conformance_table, stored_pane_checks
from playground.store.db import Store, VoteFilter
from playground.store.ratings import leaderboard, win_rate_matrix
from playground.store.style_control import StyleControlled, style_controlled_leaderboard
from playground.ui.charts import conformance_figure, ratings_figure, win_rate_figure
from playground.ui.inputs import one_of, refusal

RateBy = Literal["backend", "model", "config"]
RATE_CHOICES = [("Backends", "backend"), ("Model ids", "model"), ("Configurations", "config")]
COLUMNS = ["Rank", "Name", "Rating", "95% interval", "Style-controlled rank", "Style-controlled rating",
           "95% interval (style)", "Battles", "Note"]
STYLE_COLUMNS = ["Style feature", "Coefficient (log-odds per SD)", "95% interval", "In rating points"]
CONFORMANCE_COLUMNS = ["Model", "Tool-call replies", "Valid tool calls", "JSON replies", "Valid JSON",
                       "Answers", "Reasoning tags used"]
BOOTSTRAP_ROUNDS = 200
MIN_BATTLES = 20  # below this many battles a model is listed as provisional: no rating, no rank


def rated_sides(battles: pd.DataFrame, by: RateBy) -> pd.DataFrame:
    """The battles with ``model_a``/``model_b`` naming each side by backend label, model id or configuration.

    Example:
        >>> df = pd.DataFrame({"backend_a": ["B1"], "backend_b": ["B2"], "model_a": ["m"], "model_b": ["m"],
        ...                    "config_a": ["B1 · P · chat"], "config_b": ["B2 · P · chat"], "winner": ["tie"]})
        >>> rated_sides(df, "backend")[["model_a", "model_b"]].values.tolist()
        [['B1', 'B2']]
    """
    if by == "model":
        return battles
    source = {"backend": ("backend_a", "backend_b"), "config": ("config_a", "config_b")}[by]
    return battles.assign(model_a=battles[source[0]], model_b=battles[source[1]])


def _interval(row: pd.Series) -> str:
    return f"−{row['rating'] - row['lower']:.0f} / +{row['upper'] - row['rating']:.0f}"


def _ranks(board: pd.DataFrame) -> pd.Series:
    """Arena ranks among these models only: 1 + how many have a lower bound above this one's upper bound."""
    return pd.Series([1 + int((board["lower"] > upper).sum()) for upper in board["upper"]], index=board.index)


def rated(board: pd.DataFrame) -> pd.Index:
    """The models with at least ``MIN_BATTLES`` battles: the only ones given a rating and a rank."""
    return board.index[board["battles"] >= MIN_BATTLES]


def board_table(plain: pd.DataFrame, styled: pd.DataFrame) -> list[list[Any]]:
    """Rows for display: models with ``MIN_BATTLES`` battles or more ranked among themselves, best
    style-controlled rating first, intervals as −/+ offsets; then, apart, the provisional ones with
    their battle count only (a handful of battles yields ratings like 2828 and −828, ranked 1).

    Example:
        >>> b = pd.DataFrame({"rating": [1100.4, 2828.0], "lower": [1050.0, 900.0], "upper": [1160.0, 4000.0],
        ...                   "rank": [1, 1], "battles": [25, 3]}, index=["x", "y"])
        >>> for row in board_table(b, b):
        ...     print(row)
        [1, 'x', 1100, '−50 / +60', 1, 1100, '−50 / +60', 25, '']
        ['—', 'y', '—', '—', '—', '—', '—', 3, 'provisional: 3 of 20 battles, no rating or rank yet']
    """
    ranked = rated(styled)
    plain_ranks, styled_ranks = _ranks(plain.loc[ranked]), _ranks(styled.loc[ranked])
    rows: list[list[Any]] = []
    for name in ranked:
        p, s = plain.loc[name], styled.loc[name]
        rows.append([int(plain_ranks[name]), str(name), round(p["rating"]), _interval(p), int(styled_ranks[name]),
                     round(s["rating"]), _interval(s), int(s["battles"]), ""])
    few = styled.drop(index=ranked).sort_values("battles", ascending=False, kind="stable")
    for name, s in few.iterrows():
        battles = int(s["battles"])
        rows.append(["—", str(name), "—", "—", "—", "—", "—", battles,
                     f"provisional: {battles} of {MIN_BATTLES} battles, no rating or rank yet"])
    return rows


def style_table(style: pd.DataFrame) -> list[list[Any]]:
    """Style coefficients for display.

    Example:
        >>> s = pd.DataFrame({"coef": [0.8], "lower": [0.6], "upper": [1.0], "points": [139.0]}, index=["length"])
        >>> style_table(s)
        [['length', 0.8, '0.60 … 1.00', 139]]
    """
    return [[str(f), round(float(r["coef"]), 3), f"{r['lower']:.2f} … {r['upper']:.2f}", round(r["points"])]
            for f, r in style.iterrows()]


def _share(count: float, total: float) -> str:
    return f"{count / total:.0%} ({int(count)}/{int(total)})" if total else "—"


def conformance_rows(table: pd.DataFrame) -> list[list[Any]]:
    """Conformance per model for display: counts, and each rate with the counts it rests on.

    Example:
        >>> t = pd.DataFrame({"tool_replies": [4], "tool_valid": [3], "json_replies": [0], "json_valid": [0],
        ...                   "answers": [10], "reasoning": [1]}, index=["m"])
        >>> conformance_rows(t)
        [['m', 4, '75% (3/4)', 0, '—', 10, '10% (1/10)']]
    """
    return [[str(m), int(r["tool_replies"]), _share(r["tool_valid"], r["tool_replies"]), int(r["json_replies"]),
             _share(r["json_valid"], r["json_replies"]), int(r["answers"]), _share(r["reasoning"], r["answers"])]
            for m, r in table.iterrows()]


def position_line(bias: PositionBias) -> str:
    """The left/right position bias as one sentence, with its 95% Wilson interval.

    Example:
        >>> print(position_line(PositionBias(60, 100, 0.6, 0.502, 0.691)))
        **Position bias:** the pane shown left won 60 of 100 decisive ... 60.0% (95% interval 50.2%–69.1%; ...
    """
    if bias.rate is None or bias.low is None or bias.high is None:
        return "**Position bias:** no decisive left-vs-right outcome yet."
    return (f"**Position bias:** the pane shown left won {bias.left_wins} of {bias.decisive} decisive left-vs-right "
            f"outcomes: {bias.rate:.1%} (95% interval {bias.low:.1%}–{bias.high:.1%}; 50% = no bias).")


def summary_line(board: pd.DataFrame, by: RateBy, slice_name: str = "all") -> str:
    """How the table was computed, and a warning when some ratings rest on very few battles.

    Example:
        >>> summary_line(pd.DataFrame({"battles": [3, 3]}, index=["x", "y"]), "backend").split(" · ")[0]
        '3 battles between 2 backends'
    """
    n = int(board["battles"].sum()) // 2
    what = {"backend": "backends", "model": "models", "config": "configurations"}[by]
    text = (f"{n} battle{'s' if n != 1 else ''} between {len(board)} {what}"
            + (f" ({slice_name})" if slice_name != "all" else "")
            + " · Bradley–Terry maximum likelihood, ties count ½, scale 400·r + 1000 · style control as FastChat's "
            f"(answer length and markdown headers, lists, bold) · 95% intervals from {BOOTSTRAP_ROUNDS} bootstrap "
            "resamples · sorted by style-controlled rating")
    few = int(board["battles"].min())
    if few < MIN_BATTLES:
        text += (f"\n\n⚠️ Provisional: some ratings rest on only {few} battle{'s' if few != 1 else ''}; "
                 f"models below {MIN_BATTLES} battles are listed apart, without a rating or rank.")
    return text


def compute(store: Store, by: RateBy, slice_name: str, blind_only: bool, labels: dict[str, str],
            presets: tuple[Preset, ...]) -> tuple[Any, ...]:
    """Every output of the tab for the stored votes (and, for conformance, every stored turn)."""
    checks = conformance_table(stored_pane_checks(store))
    conformance = (conformance_rows(checks), conformance_figure(checks))
    everything = stored_battles(store, VoteFilter(blind_only=blind_only), labels=labels, presets=presets)
    bias = position_line(position_bias(everything))
    battles = rated_sides(slice_battles(everything, slice_name), by)
    battles = battles[battles["model_a"] != battles["model_b"]]
    if battles.empty:
        empty = pd.DataFrame()
        return ([], [], ratings_figure(empty), win_rate_figure(empty), "No votes in this selection yet.", bias,
                *conformance)
    plain = leaderboard(battles, rounds=BOOTSTRAP_ROUNDS)
    styled: StyleControlled = style_controlled_leaderboard(battles, rounds=BOOTSTRAP_ROUNDS)
    ranked = rated(styled.board)  # the chart leaves provisional ratings out, as the table does
    return (board_table(plain, styled.board), style_table(styled.style),
            ratings_figure(plain.loc[ranked], styled.board.loc[ranked]),
            win_rate_figure(win_rate_matrix(battles)), summary_line(styled.board, by, slice_name), bias, *conformance)


def check_inputs(rate_by: object, slice_name: object, blind: object) -> tuple[RateBy, str, bool]:
    """The handler's inputs, checked (any client may send anything).

    Raises:
        gr.Error: a value that is not one of the tab's choices.
    """
    one_of("Rate", rate_by, ("backend", "model", "config"))
    one_of("Slice", slice_name, SLICES)
    if not isinstance(blind, bool):
        raise refusal("Blind votes only must be true or false.")
    return rate_by, slice_name, blind  # type: ignore[return-value]


def build_leaderboard_tab(settings: Settings, store: Store, tab: gr.Tab) -> None:
    """Lay out the Leaderboard tab inside ``tab`` and wire it (computed on Refresh and when the tab opens)."""
    labels = {spec.id: spec.label for spec in settings.backends}
    presets = load_presets(settings.assets_dir / "presets")
    with gr.Row():
        by = gr.Radio(RATE_CHOICES, value="backend", label="Rate", elem_id="lb-by", scale=0, min_width=360)
        slice_box = gr.Dropdown(list(SLICES), value="all", label="Slice (mode or category of the first message)",
                                elem_id="lb-slice", scale=0, min_width=260)
        blind_only = gr.Checkbox(True, label="Blind votes only (names hidden while voting)", elem_id="lb-blind",
                                 scale=0, min_width=200)
        refresh = gr.Button("Refresh", size="sm", elem_id="lb-refresh", scale=0)
    summary = gr.Markdown("", elem_id="lb-summary")
    table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, elem_id="lb-table")
    with gr.Row():
        ratings_plot = gr.Plot(elem_id="lb-ratings")
        matrix_plot = gr.Plot(elem_id="lb-matrix")
    gr.Markdown("**Style control:** how much a side's odds grow per standard deviation of each style difference "
                "(answer length in characters; markdown headers, list items and bold spans).")
    style = gr.Dataframe(headers=STYLE_COLUMNS, value=[], interactive=False, elem_id="lb-style")
    position = gr.Markdown("", elem_id="lb-position")
    gr.Markdown("**Hermes conformance** per model id, from every stored turn (voted or not; finished panes only): "
                "function-calling replies whose `<tool_call>` blocks parse and match the tool schemas, JSON-mode "
                "replies that parse and match the schema, answers using a reasoning tag.")
    conformance = gr.Dataframe(headers=CONFORMANCE_COLUMNS, value=[], interactive=False, elem_id="lb-conformance")
    conformance_plot = gr.Plot(elem_id="lb-conformance-plot")

    def refresh_board(rate_by: object, slice_name: object, blind: object) -> tuple[Any, ...]:
        return compute(store, *check_inputs(rate_by, slice_name, blind), labels, presets)

    inputs = [by, slice_box, blind_only]
    outputs = [table, style, ratings_plot, matrix_plot, summary, position, conformance, conformance_plot]
    refresh.click(refresh_board, inputs, outputs, api_name="leaderboard")
    tab.select(refresh_board, inputs, outputs, api_visibility="private")
