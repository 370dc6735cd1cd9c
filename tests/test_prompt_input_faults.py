"""Prompts as users paste them: A1111/ComfyUI syntax, prompts past CLIP's token limit, words that are not
about the face (issue 14, items 1-3). The paper's 20 prompts are in test_prompts.py and must not move."""

from __future__ import annotations

import re

import pytest

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.errors import ConfigurationError
from freecure_edit.prompts import parse_prompt
from freecure_edit.prompts.limits import readable_end
from freecure_edit.prompts.syntax import read_syntax
from freecure_edit.testing import tiny_clip_tokenizer
from test_prompts import PAPER_PROMPTS

A1111 = "a woman, (blonde curly hair:1.3), ((smiling)), [freckles], <lora:add_detail:0.8> BREAK 8k"
# 5 x 14 scene words push what follows past 75 tokens whatever the tokenizer (each word is >= 1 token).
SCENE = ", ".join(["in a quiet sunlit park beside an old stone bridge over a slow river"] * 5)
LONG = f"a photo of a woman wearing sunglasses {SCENE}, with black curly hair"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", text.lower()))


# ---------------------------------------------------------------- item 2: syntax


def test_a1111_syntax_leaves_no_number_or_tag_in_the_template_or_attributes():
    parsed = parse_prompt(A1111)

    assert parsed.template == "a woman, 8k"
    assert [(a.name, a.text) for a in parsed.attributes] == [
        ("hair", "blonde curly hair"), ("expression", "smiling"), ("freckles", "freckles")]
    for text in [parsed.template, parsed.prompt, *(a.text for a in parsed.attributes)]:
        assert not re.search(r"\b\d+(\.\d+)?\b|lora|add_detail|BREAK|[()\[\]<>]", text), text
    for attribute in parsed.attributes:  # spans point into what the encoder gets
        assert parsed.prompt[attribute.span[0]:attribute.span[1]] == attribute.text
    assert parsed.source == A1111
    assert parsed.dropped_tags == ["<lora:add_detail:0.8>"]
    assert parsed.weights == [("blonde curly hair", 1.3), ("smiling", 1.21), ("freckles", 0.909)]
    assert any("<lora:add_detail:0.8>" in note and "dropped" in note for note in parsed.notes)
    assert any("weights are not applied" in note for note in parsed.notes)


@pytest.mark.parametrize(
    ("prompt", "expected_text", "expected_weights"),
    [
        ("a man with (red hair:0.5)", "a man with red hair", [("red hair", 0.5)]),
        ("a man with (((red hair)))", "a man with red hair", [("red hair", 1.331)]),
        ("a man with [[red hair]]", "a man with red hair", [("red hair", 0.826)]),
        ("a man with ((red hair:1.5))", "a man with red hair", [("red hair", 1.65)]),
        ("(a man:1.2) with red hair", "a man with red hair", [("a man", 1.2)]),
        (r"a man with \(red\) hair", "a man with (red) hair", []),
        ("a man with red hair BREAK smiling", "a man with red hair, smiling", []),
        ("a man, embedding:EasyNegative, red hair", "a man, red hair", []),
        ("a man <lyco:thing:1> <hypernet:x:0.3>with red hair", "a man with red hair", []),
        ("a man with [black:red:0.5] hair", "a man with red hair", []),
        ("a man with [red|black] hair", "a man with red hair", []),
        ("a man with red hair)", "a man with red hair", []),
    ],
)
def test_syntax_forms(prompt, expected_text, expected_weights):
    syntax = read_syntax(prompt)
    assert syntax.text == expected_text
    assert syntax.weights == expected_weights


def test_plain_prompts_pass_through_unchanged():
    for prompt, _ in PAPER_PROMPTS:
        text = prompt.replace("<S>", "woman")
        syntax = read_syntax(text)
        assert syntax.text == text and syntax.notes == [] and not syntax.changed


def test_syntax_in_an_attribute_override_or_template_is_read_too():
    parsed = parse_prompt("a man with red hair", attributes=["(red hair:1.4)"], template="(a man:1.1)")
    assert [a.text for a in parsed.attributes] == ["red hair"] and parsed.template == "a man"


def test_a_prompt_of_nothing_but_tags_is_refused():
    with pytest.raises(ConfigurationError, match="no words"):
        parse_prompt("<lora:add_detail:0.8> BREAK")


# ---------------------------------------------------------------- item 3: words not about the face


@pytest.mark.parametrize(
    ("prompt", "template", "left_out"),
    [
        ("a man sitting on a chair", "a man sitting on a chair", ["sitting", "on a chair"]),
        ("a woman holding a cup of coffee", "a woman holding a cup of coffee", ["holding a cup of coffee"]),
        ("a man with red hair, holding a flugelhorn", "a man, holding a flugelhorn", ["holding a flugelhorn"]),
        ("8k, masterpiece, best quality, a woman with red hair", "8k, masterpiece, best quality, a woman",
         ["8k", "masterpiece", "best quality"]),
        ("a photo of a woman with red hair, standing in a park", "a photo of a woman, standing in a park",
         ["standing", "in a park"]),
    ],
)
def test_words_not_about_the_face_are_left_out_of_the_cure_with_a_note(prompt, template, left_out):
    parsed = parse_prompt(prompt)

    assert parsed.template == template
    assert parsed.off_face == left_out
    cured = {word for a in parsed.attributes for word in _words(a.text)}
    assert not cured & {w for phrase in left_out for w in _words(phrase)}
    assert all(a.known for a in parsed.attributes)
    (note,) = [n for n in parsed.notes if "not about the face" in n]
    assert all(repr(phrase) in note for phrase in left_out)


def test_face_level_looks_still_reach_apg():
    parsed = parse_prompt("a man with rosy cheeks, a square jaw, a tan and acne")
    assert [(a.name, a.kind) for a in parsed.attributes] == [
        ("cheeks", "abstract"), ("jaw", "abstract"), ("tan", "abstract"), ("blemishes", "abstract")]
    assert parsed.off_face == [] and parsed.notes == []


def test_a_removed_object_that_is_not_on_the_face_is_not_put_in_the_template():
    parsed = parse_prompt("a man with red hair, without a cup")
    assert parsed.template == "a man" and parsed.negative_prompt == ""
    assert parsed.off_face == ["without a cup"]


def test_a_framing_phrase_needs_no_note():
    assert parse_prompt("a photo, a portrait of a man with red hair").notes == []


# ---------------------------------------------------------------- item 1: past the token limit


def test_attributes_past_the_limit_are_left_out_and_named_without_a_tokenizer():
    parsed = parse_prompt(LONG)

    assert [a.name for a in parsed.attributes] == ["sunglasses"]
    assert [a.text for a in parsed.past_limit] == ["black curly hair"]
    (note,) = [n for n in parsed.notes if "limit" in n]
    assert "'black curly hair' (hair)" in note and "at least" in note


def test_the_exact_count_uses_the_model_s_tokenizer():
    tokenizer = tiny_clip_tokenizer()  # one token per character: 75 characters is the limit
    prompt = "a woman with red hair, smiling, wearing a bright yellow raincoat over a shirt and silver earrings"
    ids = tokenizer(prompt, add_special_tokens=False, verbose=False)["input_ids"]
    assert len(ids) > 75

    parsed = parse_prompt(prompt, tokenizer=tokenizer)

    cut, count, room, exact = readable_end(prompt, tokenizer)
    assert (count, room, exact) == (len(ids), 75, True)
    # The encoder reads exactly the tokens up to the cut: the attributes before it stay, the others go.
    seen = tokenizer.decode(tokenizer(prompt, truncation=True, max_length=77)["input_ids"], skip_special_tokens=True)
    assert seen.replace(" ", "") == prompt[:cut].replace(" ", "")
    for attribute in parsed.attributes:
        assert attribute.span[1] <= cut
    assert parsed.past_limit and all(a.span[1] > cut for a in parsed.past_limit)
    assert f"{len(ids)} tokens" in parsed.notes[-1]
    # Without the tokenizer the estimate (>= 1 token a word) misses these: it is a lower bound.
    assert parse_prompt(prompt).past_limit == []


def test_a_short_prompt_is_not_flagged():
    assert parse_prompt("a woman with black curly hair", tokenizer=tiny_clip_tokenizer()).notes == []


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
def test_the_cure_warns_about_every_note_of_the_parser(load_tiny, photo, kind):
    fc = FreeCure(load_tiny(kind, "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))
    prompt = "(a man:1.2) <lora:x:1> with black hair, sitting, " + ", ".join(["in a park by a lake"] * 3) + ", smiling"

    result = fc.cure(photo(64, 64), prompt, CureConfig(steps=2))

    assert [a.name for a in result.attributes] == ["hair"]
    warnings = " | ".join(result.warnings)
    for expected in ("<lora:x:1>", "weights are not applied", "'smiling' (expression)", "'sitting'"):
        assert expected in warnings


# -- characters nobody sees ------------------------------------------------------------------------

@pytest.mark.parametrize("prompt, attributes, named", [
    ("a woman, smi\u00adling", [("smiling", "expression")], "SOFT HYPHEN"),
    ("a man wearing sun\u200bglasses", [("sunglasses", "sunglasses")], "ZERO WIDTH SPACE"),
    ("a woman with red\u2060 hair", [("red hair", "hair")], "WORD JOINER"),
    ("\ufeffa man with curly hair", [("curly hair", "hair")], "ZERO WIDTH NO-BREAK SPACE"),
    ("a woman with blonde hair\u200d, laugh\u200eing", [("blonde hair", "hair"), ("laughing", "expression")], "LEFT-TO-RIGHT MARK"),
    ("a woman with ｒｅｄ hair", [("red hair", "hair")], "NFKC"),
])
def test_invisible_and_compatibility_characters_are_taken_out_with_a_note(prompt, attributes, named):
    parsed = parse_prompt(prompt)
    assert [(a.text, a.name) for a in parsed.attributes] == attributes
    assert parsed.template in ("a woman", "a man")
    assert named in parsed.notes[0]
    assert parsed.source == prompt and all(ch.isprintable() for ch in parsed.prompt)


def test_a_plain_prompt_gets_no_character_note():
    assert parse_prompt("a woman with red hair, smiling").notes == []


def test_a_prompt_of_nothing_but_invisible_characters_is_empty():
    with pytest.raises(ConfigurationError, match="empty"):
        parse_prompt("\u200b\u00ad\u2060")


def test_the_command_line_says_what_it_took_out():
    from cli_fixtures import run_cli

    result = run_cli(["explain", "--prompt", "a woman, smi\u00adling", "--json"])
    assert result.exit_code == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    assert [a["text"] for a in report["attributes"]] == ["smiling"]
    assert any("SOFT HYPHEN" in note for note in report["notes"])
