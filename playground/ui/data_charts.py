"""Plotly figures for the Data tab's counts (pure: frames in, figures out)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from playground.hermes.modes import mode_ids

MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def votes_per_day_figure(by_day: pd.DataFrame) -> go.Figure:
    """Votes per UTC day, stacked by mode (columns ``day``, ``mode``, ``votes``).

    Example:
        >>> per_day = pd.DataFrame({"day": ["2025-01-01"], "mode": ["chat"], "turns": [3], "votes": [2]})
        >>> f = votes_per_day_figure(per_day)
        >>> [t.y.tolist() for t in f.data]
        [[2]]
    """
    fig = px.bar(by_day, x="day", y="votes", color="mode", barmode="stack",
                 category_orders={"mode": list(mode_ids())})
    fig.update_layout(title="Votes per day (UTC), by mode", xaxis_title="day", yaxis_title="votes", margin=MARGIN)
    return fig


def turns_per_model_figure(by_model: pd.DataFrame) -> go.Figure:
    """Turns each model took part in, stacked by mode (columns ``model``, ``mode``, ``turns``).

    Example:
        >>> f = turns_per_model_figure(pd.DataFrame({"model": ["x"], "mode": ["json"], "turns": [4], "votes": [1]}))
        >>> f.data[0].name, f.data[0].x.tolist()
        ('json', [4])
    """
    fig = px.bar(by_model, y="model", x="turns", color="mode", orientation="h", barmode="stack",
                 category_orders={"mode": list(mode_ids())})
    fig.update_layout(title="Turns per model, by mode", xaxis_title="turns", yaxis_title="", margin=MARGIN)
    return fig
