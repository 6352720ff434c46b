"""Pure vote rules and row builders: no database, no files."""

from __future__ import annotations

import pytest

from playground.store.db import VotedTurn
from playground.store.errors import InvalidVoteError, VoteNotAllowedError
from playground.store.export import battle_rows, conversation, dpo_rows
from playground.store.synthetic import make_turn
from playground.store.votes import battles, check_votable, preferences, vote_ranking
from playground.types import Vote


def voted(kind: str, n_panes: int = 2, ranking=None, **turn_kw) -> VotedTurn:
    turn = make_turn(seed=9, n_panes=n_panes, **turn_kw)
    vote = Vote("t", "u", kind, ranking=ranking)
    return VotedTurn(Vote("t", "u", kind, ranking=vote_ranking(vote, range(n_panes))), turn)


@pytest.mark.parametrize(
    ("kind", "expected"), [("a", ((0,), (1,))), ("b", ((1,), (0,))), ("tie", ((0, 1),)), ("bothbad", ((0, 1),))]
)
def test_two_pane_kinds_become_rankings(kind, expected):
    assert vote_ranking(Vote("t", "u", kind), [0, 1]) == expected


def test_ranking_groups_are_sorted_and_must_cover_every_pane():
    assert vote_ranking(Vote("t", "u", "ranking", ranking=((3,), (2, 0), (1,))), [0, 1, 2, 3]) == ((3,), (0, 2), (1,))
    with pytest.raises(InvalidVoteError):
        vote_ranking(Vote("t", "u", "ranking", ranking=((0,), (1,))), [0, 1])  # two panes take a/b/tie/bothbad
    with pytest.raises(InvalidVoteError):
        vote_ranking(Vote("t", "u", "ranking", ranking=((0,), (), (1, 2))), [0, 1, 2])
    with pytest.raises(InvalidVoteError):
        vote_ranking(Vote("t", "u", "tie", gold_text="x"), [0, 1])


def test_strict_pairs_and_battles_from_a_ranking_with_ties():
    ranking = ((0,), (1, 2), (3,))
    assert list(preferences(ranking)) == [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3)]
    assert [w for *_, w in battles(ranking)] == ["model_a", "model_a", "model_a", "tie", "model_a", "model_a"]
    assert list(preferences(((0, 1),))) == []


def test_failed_or_stopped_panes_cannot_be_voted_on():
    for status in ("error", "stopped"):
        with pytest.raises(VoteNotAllowedError):
            check_votable("t", make_turn(seed=1, statuses=("done", status)).panes)
    check_votable("t", make_turn(seed=1).panes)


def test_dpo_row_has_trl_conversational_shape():
    (row,) = dpo_rows(voted("a", history=1))
    assert [m["role"] for m in row["prompt"]] == ["system", "user", "assistant", "user"]
    assert row["chosen"] == [{"role": "assistant", "content": row["chosen"][0]["content"]}]
    assert row["rejected"][0]["role"] == "assistant" and row["chosen"] != row["rejected"]
    assert not isinstance(row["prompt"], str) and row["edited"] is False and row["chosen_original"] is None


def test_ties_give_no_pairs_but_battles():
    assert dpo_rows(voted("tie")) == [] and dpo_rows(voted("bothbad")) == []
    assert [r["winner"] for r in battle_rows(voted("bothbad"))] == ["tie (bothbad)"]
    assert [r["winner"] for r in battle_rows(voted("tie"))] == ["tie"]


def test_backend_filter_keeps_pairs_touching_the_backend():
    item = voted("ranking", n_panes=4, ranking=((0,), (1,), (2,), (3,)))
    assert len(dpo_rows(item)) == 6
    assert {(r["chosen_backend"], r["rejected_backend"]) for r in dpo_rows(item, ["hermes-405b"])} == {
        ("hermes-3b", "hermes-405b"), ("hermes-8b", "hermes-405b"), ("hermes-70b", "hermes-405b")
    }


def test_tool_loop_stays_out_of_chosen_but_in_the_battle_conversation():
    item = voted("a", mode="tools")
    (row,) = dpo_rows(item)
    assert row["chosen"][0]["content"].startswith("<tool_call>") and '"get_weather"' in row["tools"]
    assert [m["role"] for m in conversation(item.turn.panes[0])][-3:] == ["assistant", "tool", "assistant"]
