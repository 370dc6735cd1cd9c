"""`freecure-edit explain`: the paper's 20 prompts read as the prompt parser reads them, routed to FASA
(spatial) or APG (abstract), with removals and unknown words shown."""

from __future__ import annotations

import json

import pytest

from cli_fixtures import assert_one_line_error, run_cli
from test_prompts import LABELS, PAPER_PROMPTS


@pytest.mark.parametrize(("prompt", "expected"), PAPER_PROMPTS, ids=[p for p, _ in PAPER_PROMPTS])
def test_explain_reads_the_papers_prompts(prompt, expected):
    result = run_cli(["explain", "--prompt", prompt.replace("<S>", "woman"), "--json"])

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["template"] == "a woman" and report["negative_prompt"] == ""
    assert [(a["name"], a["kind"]) for a in report["attributes"]] == expected
    for attribute in report["attributes"]:
        assert attribute["route"] == {"spatial": "FASA", "abstract": "APG"}[attribute["kind"]]
        assert tuple(attribute["labels"]) == LABELS[attribute["name"]]
    assert report["fasa"] == [name for name, kind in expected if kind == "spatial"]
    assert report["apg"] == [name for name, kind in expected if kind == "abstract"]


def test_the_text_report_shows_routes_removals_and_words_not_about_the_face():
    result = run_cli(["explain", "--prompt", "a man with red curly hair, sitting, without glasses"])

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("template:  a man, sitting")
    assert lines[2].startswith("negative:  glasses")
    notes_at = lines.index("notes:")
    rows = {line.split()[0]: line for line in lines[4:notes_at]}
    assert set(rows) == {"hair", "glasses"}
    assert "spatial" in rows["hair"] and "-> FASA" in rows["hair"] and "labels hair" in rows["hair"]
    assert "-> FASA" in rows["glasses"] and "removed" in rows["glasses"]
    assert "not about the face" in lines[notes_at + 1] and "'sitting'" in lines[notes_at + 1]


def test_an_override_with_an_unknown_word_is_kept_and_flagged():
    result = run_cli(["explain", "--prompt", "a man with red hair", "--attribute", "a flugelhorn"])

    assert result.exit_code == 0, result.stderr
    assert "not a known face word" in result.stdout and "-> APG" in result.stdout


def test_explain_names_dropped_syntax_and_attributes_past_the_token_limit():
    scene = ", ".join(["in a quiet sunlit park beside an old stone bridge over a slow river"] * 5)
    prompt = f"(a woman:1.2) <lora:add_detail:0.8> wearing sunglasses {scene}, with black curly hair"
    report = json.loads(run_cli(["explain", "--prompt", prompt, "--json"]).stdout)

    assert report["source"] == prompt and "lora" not in report["prompt"] and ":1.2" not in report["prompt"]
    assert [a["name"] for a in report["attributes"]] == ["sunglasses"]
    assert [a["text"] for a in report["past_limit"]] == ["black curly hair"]
    assert report["dropped_tags"] == ["<lora:add_detail:0.8>"] and report["weights"] == [["a woman", 1.2]]
    assert any("'black curly hair'" in note and "limit" in note for note in report["notes"])
    text = run_cli(["explain", "--prompt", prompt]).stdout
    assert "black curly hair" in text.split("notes:")[1] and "<lora:add_detail:0.8>" in text


def test_a_prompt_without_attributes_says_fix_would_change_nothing():
    result = run_cli(["explain", "--prompt", "a photo of a man"])

    assert result.exit_code == 0
    assert "attributes: none; `fix` would leave the photo unchanged" in result.stdout


def test_overrides_replace_what_the_parser_finds():
    result = run_cli(["explain", "--prompt", "a man with red hair", "--attribute", "blue eyes", "--json"])

    assert [a["name"] for a in json.loads(result.stdout)["attributes"]] == ["eyes"]


def test_an_empty_prompt_is_a_usage_error():
    assert_one_line_error(run_cli(["explain", "--prompt", " "]), 2)
