"""End to end: Hermes modes in Debian's chromium — function calling, JSON mode, reasoning, inspector."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import SharedApp
from tests.e2e.test_compare import send
from tests.support.tgi_protocol import Behavior
from tests.support.tgi_server import renew

pytestmark = pytest.mark.e2e

CALC = '<tool_call>\n{"arguments": {"expression": "6*7"}, "name": "calculator"}\n</tool_call>'
WEATHER = '<tool_call>\n{"arguments": {"location": "Paris, France"}, "name": "get_current_weather"}\n</tool_call>'


def answer_after_tools(call: str, final: str):
    return lambda prompt: call if "<tool_response>" not in prompt else final


def choose_mode(page: Page, label: str) -> None:
    page.locator("#mode").get_by_label(label).check()


def test_function_calling_shows_the_tool_step_and_the_final_answer(page: Page, alpha_beta: SharedApp):
    tools, plain = alpha_beta.servers
    tools.behavior = Behavior(text=answer_after_tools(CALC, "6 times 7 is 42."))
    plain.behavior = Behavior(text="I think it is 42.")
    page.goto(alpha_beta.url)
    choose_mode(page, "Function calling")
    expect(page.locator("#system-prompt textarea")).to_have_value(
        re.compile(r"^You are a function calling AI model\..*\{TOOLS\}", re.S))
    send(page, "What is 6*7?")
    chat = page.locator("#pane-0-chat")
    expect(chat).to_contain_text("6 times 7 is 42.")
    expect(chat).to_contain_text("calculator")
    chat.get_by_text("calculator").first.click()  # open the collapsed step
    expect(chat).to_contain_text('"content": 42')
    expect(page.locator("#pane-0-metrics")).to_contain_text("1 tool call (1 valid, 0 invalid) · depth 1")
    expect(page.locator("#pane-1-chat")).to_contain_text("I think it is 42.")
    prompt = tools.requests[-1]["body"]["inputs"]
    assert prompt.startswith("<|im_start|>system\nYou are a function calling AI model.")
    assert '{"type": "function", "function": {"name": "calculator"' in prompt


def test_a_tool_that_is_not_built_in_asks_for_its_result(page: Page, alpha_beta: SharedApp):
    renew(*alpha_beta.servers, behavior=Behavior(text=answer_after_tools(WEATHER, "It is sunny, 24 C.")))
    server = alpha_beta.servers[0]  # pane A's
    page.goto(alpha_beta.url)
    choose_mode(page, "Function calling")
    page.locator("#tool-set input").click()
    page.get_by_role("option", name="weather").click()
    send(page, "Weather in Paris?")
    call, box = page.locator("#pane-0-tool-call"), page.locator("#pane-0-tool-result")
    expect(call).to_contain_text("Result of get_current_weather(location='Paris, France')")
    expect(page.locator("#pane-0-metrics")).to_contain_text("waiting for your tool result")
    box.locator("textarea").fill('{"temperature": 24, "sky": "sunny"}')
    page.locator("#pane-0-tool-send").click()
    expect(page.locator("#pane-0-chat")).to_contain_text("It is sunny, 24 C.")
    expect(box).to_be_hidden()
    expect(call).to_be_hidden()
    sent = [r["body"]["inputs"] for r in server.requests if r["path"] in ("/", "/generate_stream")]
    assert any('{"name": "get_current_weather", "content": {"temperature": 24, "sky": "sunny"}}' in p for p in sent)


def test_json_mode_shows_validity_badges(page: Page, alpha_beta: SharedApp):
    good, bad = alpha_beta.servers
    good.behavior = Behavior(text='{"name": "Edward Elric", "age": 15}')
    bad.behavior = Behavior(text='Here you go: {"name": "Al", "age": "fourteen"}')
    page.goto(alpha_beta.url)
    choose_mode(page, "JSON mode")
    page.locator("#schema textarea, #schema .cm-content").first.click()
    page.keyboard.press("Control+a")
    page.keyboard.type('{"type": "object", "properties": {"name": {"type": "string"}, '
                       '"age": {"type": "integer"}}, "required": ["name", "age"]}')
    send(page, "Describe a character.")
    expect(page.locator("#pane-0-metrics")).to_contain_text("JSON ✅ valid")
    expect(page.locator("#pane-1-metrics")).to_contain_text("JSON ❌ invalid at $.age")
    expect(page.locator("#pane-1-metrics")).to_contain_text("is not of type 'integer'")
    assert "<schema>\n{\"type\": \"object\"" in good.requests[-1]["body"]["inputs"]


def test_reasoning_sections_and_the_prompt_inspector(page: Page, alpha_beta: SharedApp):
    text = "<PLAN>First add, then check.</PLAN>The answer is 4."
    renew(*alpha_beta.servers, behavior=Behavior(text=text, rate=20))
    page.goto(alpha_beta.url)
    send(page, "2+2?")
    chat = page.locator("#pane-0-chat")
    expect(chat).to_contain_text("The answer is 4.")
    plan = chat.locator("details summary", has_text="Plan")
    expect(plan).to_be_visible()
    expect(chat.get_by_text("First add, then check.", exact=True)).to_be_hidden()
    plan.click()
    expect(chat.get_by_text("First add, then check.", exact=True)).to_be_visible()
    expect(chat.locator("details summary", has_text="Raw text")).to_be_visible()
    page.locator("#pane-0-inspector").get_by_text("Prompt inspector").click()
    header = page.locator("#pane-0-inspector-header")
    expect(header).to_contain_text("counted by the server's /tokenize")
    expect(header).to_contain_text("of 8,192")
    code = page.locator("#pane-0-inspector-code")
    expect(code).to_contain_text("<|im_start|>system")
    expect(code).to_contain_text("<|im_start|>assistant")
