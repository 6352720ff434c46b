"""Pure vote rules and row builders: no database, no files."""

from __future__ import annotations

from dataclasses import replace

import pytest

from playground.store.db import VotedTurn
from playground.store.errors import InvalidVoteError, VoteNotAllowedError
from playground.store.export import battle_rows, conversation, default_presets, dpo_rows
from playground.store.filters import export_options
from playground.store.pairs import preset_name
from playground.store.quality import ExportOptions, PromptDeduplicator, pair_drop_reason
from playground.store.synthetic import MODELS, make_turn
from playground.store.votes import battles, check_votable, preferences, vote_ranking
from playground.types import Message, Vote


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
    same = (MODELS[1], MODELS[1])  # one backend twice: the earlier replies, so the contexts, agree
    (row,) = dpo_rows(voted("a", history=1, models=same, outputs=("First.", "Second.")))
    assert [m["role"] for m in row["prompt"]] == ["system", "user", "assistant", "user"]
    assert row["chosen"] == [{"role": "assistant", "content": "First."}]
    assert row["rejected"] == [{"role": "assistant", "content": "Second."}]
    assert row["edited"] is False and row["chosen_original"] is None and row["same_context"] is True


def test_ties_give_no_pairs_but_battles():
    assert dpo_rows(voted("tie")) == [] and dpo_rows(voted("bothbad")) == []
    assert [r["winner"] for r in battle_rows(voted("bothbad"))] == ["tie (bothbad)"]
    assert [r["winner"] for r in battle_rows(voted("tie"))] == ["tie"]


def test_backend_option_keeps_pairs_touching_the_backend():
    item = voted("ranking", n_panes=4, ranking=((0,), (1,), (2,), (3,)))
    assert len(dpo_rows(item)) == 6
    rows = dpo_rows(item, ExportOptions(backends=("hermes-405b",)))
    assert {(r["chosen_backend"], r["rejected_backend"]) for r in rows} == {
        ("hermes-3b", "hermes-405b"), ("hermes-8b", "hermes-405b"), ("hermes-70b", "hermes-405b")
    }


def test_tool_turn_sides_are_everything_each_model_produced():
    item = voted("a", mode="tools")
    (row,) = dpo_rows(item, tool_roles={"hermes-8b": "user"})
    assert [m["role"] for m in row["chosen"]] == ["assistant", "tool", "assistant"]
    assert [m["role"] for m in row["rejected"]] == ["assistant", "user", "assistant"]  # the 3B-style backend
    assert row["chosen"][0]["content"].startswith("<tool_call>\n{")
    assert row["chosen"][-1]["content"].endswith("(hermes-3b).")
    assert row["rejected"][1]["content"] == (
        '<tool_response>\n{"name": "get_weather", "content": {"temp_c": 12}}\n</tool_response>\n')
    assert [m["role"] for m in row["prompt"]] == ["system", "user"] and '"get_weather"' in row["tools"]
    assert [m["role"] for m in conversation(item.turn.panes[0])][-3:] == ["assistant", "tool", "assistant"]


def test_consecutive_tool_results_share_one_turn():
    item = voted("a", mode="tools")
    pane = item.turn.panes[0]
    two = replace(pane, followup=(Message("tool", "1"), Message("tool", "2"), Message("assistant", "Done.")))
    (row,) = dpo_rows(VotedTurn(item.vote, replace(item.turn, panes=(two, item.turn.panes[1]))))
    one_turn = "<tool_response>\n1\n</tool_response>\n<tool_response>\n2\n</tool_response>\n"
    assert row["chosen"][1] == {"role": "tool", "content": one_turn}
    assert len(row["chosen"]) == 3


def test_identical_replies_never_make_a_pair():
    assert dpo_rows(voted("a", outputs=("Same.", "Same."))) == []
    same = (MODELS[1], MODELS[1])
    assert dpo_rows(voted("a", mode="tools", models=same)) == []  # call, result and answer all alike
    # the same first <tool_call> but different final answers: a real preference
    (row,) = dpo_rows(voted("a", mode="tools"))
    assert row["chosen"][0] == row["rejected"][0] and row["chosen"] != row["rejected"]


def test_mixed_contexts_go_to_their_own_kind_only():
    item = voted("a", system_prompts=("Be brief.", None))
    assert dpo_rows(item) == []
    (mixed,) = dpo_rows(item, kind="dpo-mixed-context")
    assert "prompt" not in mixed and mixed["prompt_chosen"][0] == {"role": "system", "content": "Be brief."}
    assert [m["role"] for m in mixed["prompt_rejected"]] == ["user"] and mixed["same_context"] is False
    (chosen_prompt,) = dpo_rows(item, ExportOptions(same_context_only=False))
    assert chosen_prompt["prompt"] == mixed["prompt_chosen"]
    assert dpo_rows(voted("a"), kind="dpo-mixed-context") == []


def test_provenance_names_configurations_by_preset():
    presets = default_presets()
    hermes3 = next(p for p in presets if p.id == "hermes3").system
    calling = next(p for p in presets if p.id == "function_calling").system
    filled = calling.replace("{TOOLS}", '{"type": "function", "function": {"name": "f"}}')
    (row,) = dpo_rows(voted("b", system_prompts=(hermes3, hermes3)))
    assert row["chosen_config"] == "hermes-8b · hermes3 · chat"
    assert row["rejected_config"] == "hermes-3b · hermes3 · chat"
    assert preset_name(filled, presets) == "function_calling"
    assert preset_name("Be brief.", presets).startswith("custom-")
    assert preset_name(None, presets) == "no_system"
    assert (row["rater"], row["blind"], row["vote"], row["rank_margin"]) == ("u", False, "b", 1)
    panes = voted("b").turn.panes
    assert (row["chosen_tokens"], row["rejected_tokens"]) == (panes[1].metrics.tokens, panes[0].metrics.tokens)
    assert '"temperature": 0.8' in row["sampling"] and row["turn_timestamp"].startswith("2025-01-01")


def test_gold_edit_replaces_the_first_generation_and_drops_its_token_count():
    turn = make_turn(seed=9)
    vote = Vote("t", "u", "a", ranking=((0,), (1,)), gold_text="Better.")
    (row,) = dpo_rows(VotedTurn(vote, turn))
    assert row["chosen"] == [{"role": "assistant", "content": "Better."}] and row["edited"] is True
    assert row["chosen_original"] == turn.panes[0].output and row["chosen_tokens"] is None


def side(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def test_pair_rules_margin_and_length_ratio():
    row = {"same_context": True, "chosen": side("a" * 30), "rejected": side("b" * 10), "rank_margin": 2}
    assert pair_drop_reason(row, ExportOptions()) is None
    assert pair_drop_reason(row, ExportOptions(min_rank_margin=3)) == "rank_margin"
    assert pair_drop_reason(row, ExportOptions(max_length_ratio=2)) == "length_ratio"
    # 1/2 is in range
    assert pair_drop_reason({**row, "chosen": side("a" * 5)}, ExportOptions(max_length_ratio=2)) is None
    assert pair_drop_reason({**row, "chosen": side("a" * 4)}, ExportOptions(max_length_ratio=2)) == "length_ratio"
    assert pair_drop_reason(row, ExportOptions(max_length_ratio=3)) is None


def test_near_duplicate_prompts_keep_the_first_vote():
    dedup = PromptDeduplicator(0.8)

    def prompt(text: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": "A long shared system prompt " * 5}, {"role": "user", "content": text}]

    question = "How do I train a reward model with preference pairs from human raters?"
    assert not dedup.is_duplicate("v1", prompt(question))
    assert not dedup.is_duplicate("v1", prompt(question))  # the same vote's other pairs stay
    assert dedup.is_duplicate("v2", prompt(question.replace("?", "!")))
    assert dedup.is_duplicate("v3", prompt("how do I  train a reward model with preference pairs from HUMAN raters?"))
    assert not dedup.is_duplicate("v4", prompt("Write a haiku about the sea."))
    assert not dedup.is_duplicate("v5", prompt("How do I bake bread with a sourdough starter at home?"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"min_rank_margin": 0}, "rank margin"), ({"max_length_ratio": 0.5}, "length ratio"),
     ({"dedup_threshold": 0.99}, "near-duplicate threshold")],
)
def test_out_of_range_options_are_refused_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExportOptions(**kwargs)


def test_export_options_from_form_values():
    opts = export_options(since="2025-01-01", until="2025-01-31", modes=["tools"], blind_only=True,
                          exclude_raters="v1:aa\nv1:bb, v1:aa", min_rank_margin=2.0, max_length_ratio=0,
                          dedup_threshold="0.85")
    assert opts.exclude_raters == ("v1:aa", "v1:bb") and opts.min_rank_margin == 2 and opts.max_length_ratio is None
    assert opts.dedup_threshold == 0.85 and opts.same_context_only is True and opts.until.day == 1
    assert export_options(min_rank_margin=None).min_rank_margin == 1
    with pytest.raises(ValueError, match="rank margin"):
        export_options(min_rank_margin=1.5)
