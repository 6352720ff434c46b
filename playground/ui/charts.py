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


def ratings_figure(board: pd.DataFrame) -> go.Figure:
    """Bradley–Terry ratings with their 95% bootstrap intervals, best first.

    Example:
        >>> b = pd.DataFrame({"rating": [1100.0], "lower": [1050.0], "upper": [1160.0]}, index=["x"])
        >>> list(ratings_figure(b).data[0].error_y.array)
        [60.0]
    """
    fig = go.Figure(
        go.Scatter(
            x=list(board.index), y=board["rating"] if not board.empty else [], mode="markers",
            error_y={"type": "data", "symmetric": False,
                     "array": list(board["upper"] - board["rating"]) if not board.empty else [],
                     "arrayminus": list(board["rating"] - board["lower"]) if not board.empty else []},
        )
    )
    fig.update_layout(title="Rating with 95% interval", yaxis_title="rating", margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
