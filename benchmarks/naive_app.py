"""The naive app: the baseline every load run measures side by side (``--variant naive``, issue 11).

What a Gradio 6 developer writes first for "one message, four models", and nothing more:

- one page: a ``gr.Textbox`` (``elem_id="message"``), a Send ``gr.Button`` (``elem_id="send"``) and one
  ``gr.Chatbot`` per backend (4 in the benchmark);
- one async generator click handler (``api_name="send"``). Inputs: the message and the histories as the
  page holds them (the browser sends them back with every click). It opens one
  ``huggingface_hub.AsyncInferenceClient.text_generation(stream=True, details=True)`` per backend (one
  client per backend for the process, a ChatML prompt of that pane's history with the same system prompt
  and sampling values as ``benchmarks/direct.py``), merges the streams through an ``asyncio.Queue``, and
  yields all the histories after every token (first the user's message with empty replies); special
  tokens are not shown. An exception in any stream ends the turn as Gradio's error; cancelling the event
  (``/gradio_api/cancel``) cancels the streams, which closes their connections;
- Gradio's defaults everywhere except ``concurrency_limit=None`` on the handler: the default (1) would serve
  one user at a time. ``max_threads`` stays 40 (an async handler holds no thread while it waits), the queue
  is ``demo.queue()`` untouched, nothing is stored.

Run it like the app (``python -m benchmarks.naive_app --port 7860 --backend A=http://127.0.0.1:8081 …``);
``benchmarks.load`` starts it from this checkout.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import gradio as gr
from huggingface_hub import AsyncInferenceClient

SYSTEM = "You are a helpful assistant."
SAMPLING = {"do_sample": True, "temperature": 0.8, "repetition_penalty": 1.1, "max_new_tokens": 750}


def _text(content: Any) -> str:
    """A Gradio 6 message's content (a list of blocks once preprocessed) as plain text."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


def chatml(history: Sequence[dict[str, Any]]) -> str:
    """The ChatML prompt of one pane's history (ending with the user's message).

    >>> print(chatml([{"role": "user", "content": "Hi"}]))
    <|im_start|>system
    You are a helpful assistant.<|im_end|>
    <|im_start|>user
    Hi<|im_end|>
    <|im_start|>assistant
    <BLANKLINE>
    """
    turns = [{"role": "system", "content": SYSTEM}, *history]
    return "".join(f"<|im_start|>{m['role']}\n{_text(m['content'])}<|im_end|>\n" for m in turns) + \
        "<|im_start|>assistant\n"


def build(backend_urls: Sequence[str]) -> gr.Blocks:
    """The page: a message box, Send, one chatbot per backend, and the fan-out handler."""
    clients = [AsyncInferenceClient(base_url=url, timeout=120) for url in backend_urls]

    async def send(message: str, *histories: list[dict[str, Any]]) -> AsyncIterator[list[list[dict[str, Any]]]]:
        chats = [[*h, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
                 for h in histories]
        yield chats
        tokens: asyncio.Queue[tuple[int, str | BaseException | None]] = asyncio.Queue()

        async def pump(i: int, client: AsyncInferenceClient, prompt: str) -> None:
            try:
                async for out in await client.text_generation(prompt, stream=True, details=True, **SAMPLING):
                    if not out.token.special:
                        tokens.put_nowait((i, out.token.text))
                tokens.put_nowait((i, None))
            except Exception as exc:  # noqa: BLE001 — handed to the handler, which raises it
                tokens.put_nowait((i, exc))

        tasks = [asyncio.create_task(pump(i, c, chatml(chat[:-1])))
                 for i, (c, chat) in enumerate(zip(clients, chats, strict=True))]
        try:
            streaming = len(tasks)
            while streaming:
                i, piece = await tokens.get()
                if isinstance(piece, BaseException):
                    raise piece
                if piece is None:
                    streaming -= 1
                    continue
                chats[i][-1]["content"] += piece
                yield chats
        finally:
            for task in tasks:
                task.cancel()

    with gr.Blocks(title="Naive fan-out") as demo:
        message = gr.Textbox(label="Message", elem_id="message")
        button = gr.Button("Send", elem_id="send")
        with gr.Row():
            chatbots = [gr.Chatbot(label=f"Model {chr(65 + i)}") for i in range(len(backend_urls))]
        button.click(send, [message, *chatbots], chatbots, api_name="send", concurrency_limit=None)
    return demo


def main(argv: Sequence[str] | None = None) -> None:
    """``--port`` and ``--backend NAME=URL`` as ``app.py`` takes them; other arguments are ignored."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.naive_app", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--backend", action="append", default=[], metavar="NAME=URL")
    args, _ = p.parse_known_args(argv)
    urls = [spec.partition("=")[2] for spec in args.backend]
    if not urls:
        raise SystemExit("--backend NAME=URL: at least one backend is needed")
    build(urls).queue().launch(server_name="127.0.0.1", server_port=args.port)


if __name__ == "__main__":
    main()
