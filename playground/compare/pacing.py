"""How often a streaming turn sends the page an update, adapted to how many turns are streaming
and to how much text the turn shows.

Every update costs the app the same few milliseconds (Gradio's per-yield work) whatever it
carries, so the process shares one budget of updates per second among the running turns:
one turn alone updates up to ``fastest_hz`` times a second, many turns slow down to
``slowest_hz`` each, and every update then carries all tokens that arrived since the last.
The page redraws each pane's whole chat on every update, so a long reply is updated less
often: at most ``chars_per_s`` characters redrawn per second (benchmarks/stop_latency.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class UpdatePacer:
    """Minimum interval between two updates of one turn, from the number of turns streaming.

    >>> pacer = UpdatePacer(budget_hz=100, fastest_hz=20, slowest_hz=5)
    >>> with pacer.turn():
    ...     pacer.interval_s()
    0.05
    >>> pacer.active = 50
    >>> pacer.interval_s()
    0.2
    >>> pacer.interval_s(shown_chars=20_000)  # 4 panes of ~700 tokens: the page redraws 20 kB per update
    0.5
    """

    budget_hz: float = 100.0
    fastest_hz: float = 20.0
    slowest_hz: float = 2.5  # 100 updates/s shared by 40 turns (--max-turns): the budget holds to capacity
    chars_per_s: float = 40_000.0
    # What is shown at once (a first token, an end) still waits this long after the previous update, so that
    # the panes' near-simultaneous ones (four first tokens, four ends) share one update.
    urgent_gap_s: float = 0.03
    active: int = field(default=0)

    def interval_s(self, shown_chars: int = 0) -> float:
        """Seconds a turn waits after one update before it sends the next (``shown_chars``: the text its panes show)."""
        share = self.budget_hz / max(1, self.active)
        return max(1.0 / min(self.fastest_hz, max(self.slowest_hz, share)), shown_chars / self.chars_per_s)

    @contextmanager
    def turn(self) -> Iterator[UpdatePacer]:
        """Count a turn as streaming for the duration of the block."""
        self.active += 1
        try:
            yield self
        finally:
            self.active -= 1
