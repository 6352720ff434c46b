"""Structured-reasoning sections: closed, unclosed mid-stream, numbered, nested, stray, partial."""

from playground.hermes.reasoning import (
    Section,
    has_reasoning,
    partial_tag_suffix,
    render_reasoning_markdown,
    section_title,
    split_reasoning,
)

REPLY = (
    "<SCRATCHPAD>\n<RESTATEMENT>Sort a list.</RESTATEMENT>\n<REASONING>\n<THOUGHT_1>Use sorted.</THOUGHT_1>\n"
    "</REASONING>\n</SCRATCHPAD>\n<SOLUTION>\n```python\nsorted(xs)\n```\n</SOLUTION>\nDone."
)


def test_closed_sections_are_outermost_with_inner_tags_kept_raw():
    sections = split_reasoning(REPLY)
    assert [(s.kind, s.tag, s.closed) for s in sections] == [
        ("tag", "SCRATCHPAD", True), ("text", None, True), ("tag", "SOLUTION", True), ("text", None, True)]
    assert "<THOUGHT_1>Use sorted.</THOUGHT_1>" in sections[0].content
    assert sections[3].content == "\nDone."


def test_unclosed_tag_mid_stream():
    sections = split_reasoning("Intro <REASONING>step one, step t")
    assert sections == [
        Section("text", None, "Intro "),
        Section("tag", "REASONING", "step one, step t", closed=False),
    ]


def test_numbered_tags_and_lowercase_scratch_pad():
    sections = split_reasoning("<THOUGHT_1>a</THOUGHT_1><STEP_12>b</STEP_12><scratch_pad>c</scratch_pad>")
    assert [(s.tag, s.content) for s in sections] == [("THOUGHT_1", "a"), ("STEP_12", "b"), ("scratch_pad", "c")]
    assert split_reasoning("<THOUGHT_>x</THOUGHT_>") == [Section("text", None, "<THOUGHT_>x</THOUGHT_>")]


def test_every_trained_tag_opens_a_section():
    for tag in ["SCRATCHPAD", "REASONING", "INNER_MONOLOGUE", "PLAN", "EXECUTION", "REFLECTION",
                "THINKING", "SOLUTION", "EXPLANATION", "UNIT_TEST", "RESTATEMENT", "PYDANTIC_SCHEMAS",
                "DIAGRAM", "scratch_pad"]:
        assert split_reasoning(f"<{tag}>x</{tag}>") == [Section("tag", tag, "x")], tag


def test_same_tag_nested_is_depth_counted():
    sections = split_reasoning("<PLAN>a<PLAN>b</PLAN>c</PLAN>d")
    assert sections[0] == Section("tag", "PLAN", "a<PLAN>b</PLAN>c")
    assert sections[1] == Section("text", None, "d")


def test_stray_closing_tag_and_unknown_tags_stay_text():
    text = "List<T> and </PLAN> and <div>"
    assert split_reasoning(text) == [Section("text", None, text)]
    assert not has_reasoning(text) and has_reasoning("<STEP_3>")


def test_split_is_faithful():
    for text in [REPLY, "<PLAN>open", "</PLAN><PLAN></PLAN>", "", "<REAS"]:
        assert "".join(s.raw for s in split_reasoning(text)) == text


def test_partial_opening_tag_at_end_is_raw_in_split_but_held_back_when_streaming():
    sections = split_reasoning("Let me think. <REAS")
    assert sections == [Section("text", None, "Let me think. <REAS")]
    assert render_reasoning_markdown(sections, streaming=True) == "Let me think. "
    assert render_reasoning_markdown(sections) == "Let me think. &lt;REAS"  # shown as text, never a tag
    assert partial_tag_suffix("x </PLA") == 5 and partial_tag_suffix("x <THOUGHT_1") == 10
    assert partial_tag_suffix("a < b") == 0 and partial_tag_suffix("<PLAN>") == 0


def test_markdown_uses_details_open_only_for_in_progress():
    md = render_reasoning_markdown(split_reasoning("<PLAN>a</PLAN>Answer <REFLECTION>hm</REF"), streaming=True)
    assert md == (
        "<details><summary>Plan</summary>\n\na\n\n</details>\n\nAnswer \n\n"
        "<details open><summary>Reflection …</summary>\n\nhm\n\n</details>"
    )


def test_markdown_escapes_html_but_not_fenced_code():
    md = render_reasoning_markdown(split_reasoning(REPLY))
    assert "&lt;THOUGHT_1>Use sorted.&lt;/THOUGHT_1>" in md
    assert "```python\nsorted(xs)\n```" in md
    evil = render_reasoning_markdown(split_reasoning("<PLAN></details><script>x</script></PLAN>"))
    assert "</details><script>" not in evil and evil.count("</details>") == 1


def test_section_titles():
    assert section_title("INNER_MONOLOGUE") == "Inner monologue"
    assert section_title("UNIT_TEST") == "Unit test"
    assert section_title("STEP_3") == "Step 3"


def test_open_code_fence_mid_stream_cannot_swallow_the_block_end():
    md = render_reasoning_markdown(split_reasoning("<SOLUTION>```python\nprint(1)"), streaming=True)
    assert md.endswith("```python\nprint(1)\n```\n\n</details>")
