"""Dataset cards (README.md with YAML front matter) stating an export's format, filters and counts.

The same card goes beside a file exported from the CLI or the Data tab and to the Hub
(``hub.push_to_hub``), so whoever trains on the data reads what was left out and why.

Example:
    >>> card = dataset_card("prefs", {"dpo": ExportReport("dpo", "jsonl", ExportOptions(), 3, 2, {"tie": 1})},
    ...                     {"dpo": "dpo.jsonl"})
    >>> card.splitlines()[:3]
    ['---', 'configs:', '- config_name: dpo']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from playground.store.quality import DROP_REASONS, ExportKind, ExportOptions

FORMATS: dict[str, str] = {
    "dpo": (
        "TRL conversational preference format with an explicit prompt: `prompt`, `chosen`, `rejected` are "
        "lists of `{role, content}`. `prompt` is the context both panes were sent (system message first, "
        "ending with the last user or tool message); `chosen` / `rejected` are everything each model produced "
        "in the turn: its reply, and in function-calling turns the tool results (role `tool`, or `user` for "
        "backends trained that way) and every later reply, ending with the final answer. One row per strictly "
        "ordered pair of replies; ties and \"both bad\" give none; identical replies never make a pair. "
        "Provenance columns: `chosen_*` / `rejected_*` model, backend, config (backend · system-prompt preset "
        "or `custom-<hash>` · mode), system, tokens (generated; null for a gold edit); `mode`, `sampling`, "
        "`tools`, `json_schema` (JSON text), `blind`, `rater` (pseudonym), `timestamp` (vote), `vote_created`, "
        "`turn_timestamp`, `rank_margin`, `same_context`, `edited` / `chosen_original` (gold edits)."
    ),
    "dpo-mixed-context": (
        "Pairs whose panes were sent different contexts (their own system prompts, or differing earlier "
        "replies): `prompt_chosen` / `prompt_rejected` hold each pane's own context, `chosen` / `rejected` as "
        "in `dpo`. There is deliberately no `prompt` column: DPO compares two replies to one prompt, so these "
        "rows need a decision (e.g. keep the chosen context) before training. Same provenance columns as `dpo`."
    ),
    "battles": (
        "Arena battle records, one per pair of compared replies, ties included: `model_a`, `model_b`, "
        "`winner` (`model_a`, `model_b`, `tie`, `tie (bothbad)`), `conversation_a`, `conversation_b`, `judge` "
        "(rater pseudonym), `turn`, `anony`, `tstamp`; `judge_verdicts`: every LLM judge's verdicts on the pair "
        "(`judge_backend`, `judge_model`, `prompt_version`, `verdict_ab` with `model_a` shown first, `verdict_ba` "
        "with `model_b` first, `final`: `a` = `model_a`, `b`, `tie`, `inconsistent` when the two orders disagree, "
        "`error`), empty when no judge saw it."
    ),
    "ai-dpo": (
        "**AI feedback, not human preferences.** Pairs labelled by an LLM judge (`judge_model`, with its "
        "`prompt_version` and `judge_rationale`), each judged in both orders and kept only when both orders "
        "chose the same reply (MT-Bench's position-swap rule): ties, inconsistent verdicts and judge errors give "
        "none. Every row has `source` = `ai-judge` (and `rater` = `judge:<backend>`); pairs are built and "
        "filtered exactly as in `dpo`, same columns plus the judge's. Human pairs (`source` = `human`) are in "
        "this file only when the export was asked to mix them in (`with_human`)."
    ),
}
AI_NOTE = ("This card describes **AI feedback**: preferences given by an LLM judge, not by people. "
           "Keep it apart from human preference data unless you mean to mix them.")


@dataclass(frozen=True)
class ExportReport:
    """What one export wrote: its rows, the votes it read and the pairs left out per reason."""

    kind: ExportKind
    fmt: str
    options: ExportOptions
    rows: int
    votes: int
    dropped: Mapping[str, int] = field(default_factory=dict)
    card_path: Path | None = None
    judgements: int = 0


def _option_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value.isoformat() if hasattr(value, "isoformat") else value


def options_dict(options: ExportOptions) -> dict[str, Any]:
    """The options as plain YAML-ready values.

    Example:
        >>> options_dict(ExportOptions(modes=("chat",)))["modes"]
        ['chat']
    """
    return {f.name: _option_value(getattr(options, f.name)) for f in fields(options)}


def _section(config: str, path: str, report: ExportReport | None) -> list[str]:
    lines = [f"## `{config}` (`{path}`)", "", FORMATS[config], ""]
    if report is None:
        return lines + ["Rows are appended as votes arrive.", ""]
    lines += [f"- votes read: {report.votes}", f"- rows kept: {report.rows}"]
    if config == "ai-dpo":
        lines.insert(-1, f"- judgements read: {report.judgements}")
    dropped = {k: v for k, v in report.dropped.items() if v}
    lines += [f"- pairs left out: {sum(dropped.values())}" + ("" if dropped else " (none)")]
    lines += [f"  - `{reason}`: {n} ({DROP_REASONS[reason]})" for reason, n in dropped.items()]
    filters = yaml.safe_dump(options_dict(report.options), default_flow_style=True, width=10**6).strip()
    lines += ["", f"Filters: `{filters}`", ""]
    return lines


def dataset_card(
    title: str,
    reports: Mapping[str, ExportReport | None],
    data_files: Mapping[str, str],
    *,
    note: str = "",
) -> str:
    """README.md for exported data: YAML (configs, counts, filters) then one section per config.

    Args:
        title: the heading (the dataset repo id on the Hub, or the file name).
        reports: per config, what its export wrote (``None`` for an appended log).
        data_files: per config, the data file path (relative to the card; globs allowed).
        note: Markdown appended at the end.
    """
    meta: dict[str, Any] = {"configs": []}
    for i, (config, path) in enumerate(data_files.items()):
        entry: dict[str, Any] = {"config_name": config, "data_files": [{"split": "train", "path": path}]}
        if i == 0:
            entry["default"] = True
        meta["configs"].append(entry)
    ai = "ai-dpo" in data_files
    meta.update({"tags": ["dpo", "preference", "hermes", *(["ai-feedback"] if ai else [])], "license": "other"})
    exports = {c: {"rows": r.rows, "votes": r.votes, **({"judgements": r.judgements} if c == "ai-dpo" else {}),
                   "dropped": dict(r.dropped), "options": options_dict(r.options)}
               for c, r in reports.items() if r is not None}
    if exports:
        meta["hermes_playground"] = exports
    intro = AI_NOTE if ai else ("Human preferences collected with Hermes Playground by comparing model replies "
                                "side by side.")
    body = [f"# {title}", "", intro, "Each left-out pair is counted once, under the first rule it failed.", ""]
    for config, path in data_files.items():
        body += _section(config, path, reports.get(config))
    first = next(iter(data_files))
    body += ["```python", "from datasets import load_dataset",
             f'ds = load_dataset("{title}", "{first}", split="train")  # or "json"/"parquet" with data_files=',
             "```", ""]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body) + note
