"""The Leaderboard tab: Bradley–Terry ratings with 95% intervals and a win-rate matrix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import gradio as gr
import pandas as pd

from playground.settings import Settings
from playground.store.db import Store, VoteFilter
from playground.store.export import iter_rows
from playground.store.ratings import leaderboard, win_rate_matrix
from playground.ui.charts import ratings_figure, win_rate_figure

RateBy = Literal["backend", "model"]
COLUMNS = ["Rank", "Name", "Rating", "95% interval", "Battles"]
BOOTSTRAP_ROUNDS = 200
MIN_BATTLES = 20


def battle_outcomes(rows: Iterable[Mapping[str, Any]], by: RateBy, labels: Mapping[str, str]) -> pd.DataFrame:
    """``model_a``, ``model_b``, ``winner`` per battle, naming each side by backend label or by model id.

    Backends are what the playground compares (two backends may serve one model id under
    different settings); a backend no longer configured keeps its id.

    Example:
        >>> row = {"backend_a": "b8", "backend_b": "b70", "model_a": "m8", "model_b": "m70", "winner": "tie"}
        >>> battle_outcomes([row], "backend", {"b8": "Hermes 8B"}).iloc[0].tolist()
        ['Hermes 8B', 'b70', 'tie']
    """
    if by == "backend":
        data = [(labels.get(r["backend_a"], r["backend_a"]), labels.get(r["backend_b"], r["backend_b"]), r["winner"])
                for r in rows]
    else:
        data = [(r["model_a"], r["model_b"], r["winner"]) for r in rows]
    return pd.DataFrame(data, columns=["model_a", "model_b", "winner"])


def board_table(board: pd.DataFrame) -> list[list[Any]]:
    """Leaderboard rows for display: rank, name, rating, interval as −/+ offsets, battles.

    Example:
        >>> b = pd.DataFrame({"rating": [1100.4], "lower": [1050.0], "upper": [1160.0], "rank": [1], "battles": [9]},
        ...                  index=["x"])
        >>> board_table(b)
        [[1, 'x', 1100, '−50 / +60', 9]]
    """
    return [[int(r["rank"]), str(name), round(r["rating"]), f"−{r['rating'] - r['lower']:.0f} / +{r['upper'] - r['rating']:.0f}",
             int(r["battles"])] for name, r in board.iterrows()]


def compute(store: Store, by: RateBy, blind_only: bool, labels: Mapping[str, str]) -> tuple[list[list[Any]], Any, Any, str]:
    """Table, ratings figure, win-rate figure and a summary line for the stored battles."""
    battles = battle_outcomes(iter_rows(store, "battles", VoteFilter(blind_only=blind_only)), by, labels)
    if battles.empty:
        return [], ratings_figure(pd.DataFrame()), win_rate_figure(pd.DataFrame()), "No votes yet."
    board = leaderboard(battles, rounds=BOOTSTRAP_ROUNDS)
    return board_table(board), ratings_figure(board), win_rate_figure(win_rate_matrix(battles)), summary_line(board, by)


def summary_line(board: pd.DataFrame, by: RateBy) -> str:
    """How the table was computed, and a warning when some ratings rest on very few battles.

    Example:
        >>> summary_line(pd.DataFrame({"battles": [3, 3]}, index=["x", "y"]), "backend").split(" · ")[0]
        '3 battles between 2 backends'
    """
    n = int(board["battles"].sum()) // 2
    text = (f"{n} battle{'s' if n != 1 else ''} between {len(board)} {by}s · Bradley–Terry maximum likelihood, "
            f"ties count ½, scale 400·r + 1000 · 95% intervals from {BOOTSTRAP_ROUNDS} bootstrap resamples")
    few = int(board["battles"].min())
    if few < MIN_BATTLES:
        text += (f"\n\n⚠️ Some ratings rest on only {few} battle{'s' if few != 1 else ''}: "
                 f"ratings and intervals mean little below {MIN_BATTLES} battles each.")
    return text


def build_leaderboard_tab(settings: Settings, store: Store, tab: gr.Tab) -> None:
    """Lay out the Leaderboard tab inside ``tab`` and wire it (computed on Refresh and when the tab opens)."""
    labels = {spec.id: spec.label for spec in settings.backends}
    with gr.Row():
        by = gr.Radio([("Backends", "backend"), ("Model ids", "model")], value="backend", label="Rate",
                      elem_id="lb-by", scale=0, min_width=260)
        blind_only = gr.Checkbox(True, label="Blind votes only (names hidden while voting)", elem_id="lb-blind",
                                 scale=0, min_width=200)
        refresh = gr.Button("Refresh", size="sm", elem_id="lb-refresh", scale=0)
    summary = gr.Markdown("", elem_id="lb-summary")
    table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, elem_id="lb-table")
    with gr.Row():
        ratings_plot = gr.Plot(elem_id="lb-ratings")
        matrix_plot = gr.Plot(elem_id="lb-matrix")

    def refresh_board(rate_by: RateBy, blind: bool) -> tuple[list[list[Any]], Any, Any, str]:
        if rate_by not in ("backend", "model"):
            raise gr.Error("Rate by 'backend' or 'model'.")
        return compute(store, rate_by, blind is not False, labels)

    outputs = [table, ratings_plot, matrix_plot, summary]
    refresh.click(refresh_board, [by, blind_only], outputs, api_name="leaderboard")
    tab.select(refresh_board, [by, blind_only], outputs, api_visibility="private")
