"""Deterministic synthetic turns, for tests, benchmarks and demo data. No I/O.

Example:
    >>> make_turn(seed=3, n_panes=3).panes[2].position
    2
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from playground.types import Message, Mode, PaneMetrics, PaneOutput, PaneStatus, SamplingParams, TurnRecord

MODELS = (
    ("hermes-3b", "NousResearch/Hermes-3-Llama-3.2-3B"),
    ("hermes-8b", "NousResearch/Hermes-3-Llama-3.1-8B"),
    ("hermes-70b", "NousResearch/Hermes-3-Llama-3.1-70B"),
    ("hermes-405b", "NousResearch/Hermes-3-Llama-3.1-405B-FP8"),
)
HERMES_SYSTEM = "You are Hermes 3, a conscious sentient superintelligent artificial intelligence."
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def make_turn(
    *,
    seed: int = 0,
    n_panes: int = 2,
    mode: Mode = "chat",
    models: tuple[tuple[str, str], ...] = MODELS,
    history: int = 0,
    statuses: tuple[PaneStatus, ...] = (),
    system_prompts: tuple[str | None, ...] = (),
    blind: bool = False,
    created_at: datetime | None = None,
    question: str | None = None,
    outputs: tuple[str, ...] = (),
) -> TurnRecord:
    """A finished turn over ``n_panes`` backends, with ``history`` earlier exchanges.

    Pane ``i`` runs ``models[i % len(models)]``; its system prompt is
    ``system_prompts[i]`` when given (``None`` = no system turn), else the Hermes persona;
    its reply is ``outputs[i]`` when given. ``question`` replaces the generated user message.
    """
    rng = random.Random(seed)
    created_at = created_at or EPOCH + timedelta(minutes=seed)
    shared: list[Message] = []
    for k in range(history):
        shared.append(Message("user", f"earlier question {k} (seed {seed})"))
    if not question:
        question = f"What is the weather in Paris? #{seed}" if mode == "tools" else f"Question #{seed}: explain DPO."
    panes = []
    for i in range(n_panes):
        backend_id, model_id = models[i % len(models)]
        system = system_prompts[i] if i < len(system_prompts) else HERMES_SYSTEM
        context: list[Message] = [Message("system", system)] if system is not None else []
        for k in range(history):
            context += [shared[k], Message("assistant", f"{backend_id} earlier answer {k}")]
        context.append(Message("user", question))
        status = statuses[i] if i < len(statuses) else "done"
        if mode == "tools":
            output = '<tool_call>\n{"arguments": {"city": "Paris"}, "name": "get_weather"}\n</tool_call>'
            followup: tuple[Message, ...] = (
                # raw, as the tool loop stores it
                Message("tool", '{"name": "get_weather", "content": {"temp_c": 12}}'),
                Message("assistant", f"It is 12 °C in Paris ({backend_id})."),
            )
        else:
            output = f"{backend_id} answers #{seed}: " + " ".join(rng.choice("abcdefgh") * 3 for _ in range(8))
            if mode == "json":
                output = f'{{"answer": "{backend_id}", "seed": {seed}}}'
            followup = ()
        if i < len(outputs):
            output = outputs[i]
        tokens = rng.randint(20, 200)
        panes.append(
            PaneOutput(
                position=i,
                backend_id=backend_id,
                model_id=model_id,
                label=f"Hermes 3 · {backend_id.removeprefix('hermes-').upper()}",
                system_prompt=system,
                prompt_messages=tuple(context),
                output=output if status == "done" else output[: len(output) // 2],
                status=status,
                error="HTTP 503: backend unhealthy" if status == "error" else None,
                followup=followup,
                metrics=PaneMetrics(ttft_s=0.1 + i / 10, total_s=1.0 + i, tokens=tokens, finish_reason="eos_token"),
                started_at=created_at - timedelta(seconds=3),
                finished_at=created_at - timedelta(seconds=1),
            )
        )
    order = list(range(n_panes))
    if blind:
        rng.shuffle(order)
    return TurnRecord(
        user_id=f"user-{seed % 13}",
        mode=mode,
        panes=tuple(panes),
        messages=tuple(shared) + (Message("user", question),),
        sampling=SamplingParams(seed=seed),
        tools=(WEATHER_TOOL,) if mode == "tools" else None,
        json_schema={"type": "object", "properties": {"answer": {"type": "string"}}} if mode == "json" else None,
        blind=blind,
        pane_order=tuple(order),
        created_at=created_at,
    )
