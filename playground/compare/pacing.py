"""How often a streaming turn sends the page an update, adapted to how many turns are streaming.

Every update costs the app the same few milliseconds (Gradio's per-yield work) whatever it
carries, so the process shares one budget of updates per second among the running turns:
one turn alone updates up to ``fastest_hz`` times a second, many turns slow down to
``slowest_hz`` each, and every update then carries all tokens that arrived since the last.
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
    """

    budget_hz: float = 100.0
    fastest_hz: float = 20.0
    slowest_hz: float = 5.0
    active: int = field(default=0)

    def interval_s(self) -> float:
        """Seconds a turn waits after one update before it sends the next."""
        share = self.budget_hz / max(1, self.active)
        return 1.0 / min(self.fastest_hz, max(self.slowest_hz, share))

    @contextmanager
    def turn(self) -> Iterator[UpdatePacer]:
        """Count a turn as streaming for the duration of the block."""
        self.active += 1
        try:
            yield self
        finally:
            self.active -= 1
