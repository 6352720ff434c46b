"""Plotly figures for the leaderboard (pure: frames in, figures out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def win_rate_figure(matrix: pd.DataFrame) -> go.Figure:
    """Heatmap of how often the row model beat the column model (ties as ½), best model first.

    Example:
        >>> m = pd.DataFrame([[np.nan, 0.75], [0.25, np.nan]], index=["x", "y"], columns=["x", "y"])
        >>> win_rate_figure(m).data[0].text[0][1]
        '0.75'
    """
    values = matrix.to_numpy(dtype=float) if not matrix.empty else np.empty((0, 0))
    text = [["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in values]
    fig = go.Figure(
        go.Heatmap(
            z=values, x=list(matrix.columns), y=list(matrix.index), text=text, texttemplate="%{text}",
            colorscale="RdBu", zmin=0, zmax=1, colorbar={"title": "win rate"},
            hovertemplate="%{y} beat %{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(title="Win rate of row against column (ties count ½)", xaxis_title="opponent",
                      yaxis_title="model", yaxis_autorange="reversed", margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def ratings_figure(plain: pd.DataFrame, styled: pd.DataFrame | None = None) -> go.Figure:
    """Bradley–Terry ratings with their 95% bootstrap intervals, and the style-controlled ones beside them.

    Models are placed in the order of ``styled`` when given (else ``plain``).

    Example:
        >>> b = pd.DataFrame({"rating": [1100.0], "lower": [1050.0], "upper": [1160.0]}, index=["x"])
        >>> [list(t.error_y.array) for t in ratings_figure(b, b).data]
        [[60.0], [60.0]]
    """
    boards = [("Bradley–Terry", plain)] + ([("style-controlled", styled)] if styled is not None else [])
    order = list((styled if styled is not None else plain).index)
    fig = go.Figure()
    for name, board in boards:
        board = board.reindex(order) if not board.empty else board
        fig.add_trace(go.Scatter(
            x=order, y=list(board["rating"]) if not board.empty else [], mode="markers", name=name,
            error_y={"type": "data", "symmetric": False,
                     "array": list(board["upper"] - board["rating"]) if not board.empty else [],
                     "arrayminus": list(board["rating"] - board["lower"]) if not board.empty else []},
        ))
    fig.update_layout(title="Rating with 95% interval", yaxis_title="rating", legend_orientation="h",
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def conformance_figure(table: pd.DataFrame) -> go.Figure:
    """Grouped bars per model: tool-call validity, JSON-schema validity and reasoning-tag use (shares).

    Example:
        >>> t = pd.DataFrame({"tool_rate": [0.5], "json_rate": [np.nan], "reasoning_rate": [0.0]}, index=["m"])
        >>> [bar.name for bar in conformance_figure(t).data]
        ['tool calls valid', 'JSON valid', 'reasoning tags used']
    """
    fig = go.Figure()
    for column, name in (("tool_rate", "tool calls valid"), ("json_rate", "JSON valid"),
                         ("reasoning_rate", "reasoning tags used")):
        fig.add_trace(go.Bar(x=list(table.index), y=list(table[column]) if not table.empty else [], name=name))
    fig.update_layout(title="Hermes conformance per model", yaxis_title="share", yaxis_range=[0, 1], barmode="group",
                      legend_orientation="h", margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
