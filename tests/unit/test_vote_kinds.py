"""The two-pane vote kinds, declared once in store/votes.PAIR_VOTES, agree with every rule built from them."""

from typing import get_args

import pytest

from playground.store.rechecks import rechecks, swap_kind
from playground.store.schema import votes
from playground.store.votes import PAIR_VOTES, battles, vote_ranking
from playground.types import Vote, VoteKind

MIRROR = {"model_a": "model_b", "model_b": "model_a"}


def test_the_table_names_every_two_pane_vote_kind_and_fits_the_kind_columns():
    assert set(PAIR_VOTES) | {"ranking"} == set(get_args(VoteKind))
    widths = [votes.c.kind.type.length, rechecks.c.original_kind.type.length, rechecks.c.answer_kind.type.length]
    assert all(len(kind) <= min(widths) for kind in PAIR_VOTES)


@pytest.mark.parametrize("kind", list(PAIR_VOTES))
def test_a_swapped_answer_is_the_same_judgement_mirrored(kind):
    pair = PAIR_VOTES[kind]
    assert swap_kind(swap_kind(kind)) == kind
    assert PAIR_VOTES[pair.swapped].outcome == MIRROR.get(pair.outcome, pair.outcome)


@pytest.mark.parametrize("kind", list(PAIR_VOTES))
def test_a_pair_vote_ranks_and_battles_as_its_outcome(kind):
    ranking = vote_ranking(Vote("t", "u", kind), [3, 5])
    assert list(battles(ranking, kind)) == [(3, 5, PAIR_VOTES[kind].outcome)]
    (_, _, from_ranking), = battles(ranking)
    assert from_ranking == PAIR_VOTES[kind].outcome.split(" ")[0]  # "tie (bothbad)" ranks as a tie
