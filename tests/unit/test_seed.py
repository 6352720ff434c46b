"""The seed: blank means random and none is sent; a typed one is the same for every pane or seed + i."""

from __future__ import annotations

import pytest

from playground.compare.prepare import TurnSetupError, pane_seed, sampling_from_widgets
from playground.limits import SEED_MAX
from playground.types import SamplingParams

SLIDERS = (0.8, 1.0, 0, 1.1, 750)


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_seed_is_none_and_stays_none_in_every_pane(blank):
    params = sampling_from_widgets(*SLIDERS, blank, "", False)
    assert params.seed is None
    assert [pane_seed(params, i).seed for i in range(4)] == [None] * 4


def test_a_typed_seed_is_shared_or_offset_per_pane():
    same = sampling_from_widgets(*SLIDERS, " 41 ", "", True)
    apart = sampling_from_widgets(*SLIDERS, "41", "", False)
    assert [pane_seed(same, i).seed for i in range(3)] == [41, 41, 41]
    assert [pane_seed(apart, i).seed for i in range(3)] == [41, 42, 43]
    assert pane_seed(SamplingParams(seed=SEED_MAX, same_seed=False), 1).seed == 0  # stays a valid u64


@pytest.mark.parametrize(("seed", "same"), [("0.5", True), ("-1", True), ("NaN", True), ("7", "yes"), ("7", None)])
def test_odd_seed_values_are_refused_by_name(seed, same):
    with pytest.raises(TurnSetupError, match="Seed|seed"):
        sampling_from_widgets(*SLIDERS, seed, "", same)
