"""The prompts of an evaluation: the paper's 20 (seed 003, Table 3) by default, or a CSV/JSONL file.

`<S>` in a prompt stands for the subject ("man", "woman"...), as in the paper; it is replaced with the
run's subject. Each prompt carries its number of attributes as the project's prompt parser counts them,
which is what Table 2 groups by.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from freecure_edit.errors import ConfigurationError
from freecure_edit.prompts.records import read_records

SUBJECT_PLACEHOLDER = "<S>"
DEFAULT_SUBJECT = "person"

# Seed 003, Table 3: 8 prompts with one attribute, 8 with two, 4 with three.
PAPER_PROMPTS = (
    "a <S> with black curly hair",
    "a <S> with blonde curly hair",
    "a <S> with red long straight hair",
    "a <S> with very angry looking",
    "a <S> with frowning worriedly",
    "a <S> laughing happily",
    "a <S> wearing silver earrings",
    "a <S> wearing sunglasses",
    "a <S> with white curly hair, frowning worriedly",
    "a <S> with black curly hair, laughing happily",
    "a <S> with blonde curly hair and blue eyes",
    "a <S> with blue eyes, laughing happily",
    "a <S> wearing sunglasses, laughing happily",
    "a <S> with black hair, wearing silver earrings",
    "a <S> with blonde hair and blue eyes",
    "a <S> with sunglasses and silver earrings",
    "a <S> with red curly hair, wearing pearl earrings, unhappy looking",
    "a <S> with blue eyes and blonde curly hair, smiling",
    "a <S> with white curly hair, wearing sunglasses, laughing happily",
    "a <S> with black curly hair, wearing silver earrings, frowning worriedly",
)


@dataclass(frozen=True)
class EvalPrompt:
    """One prompt of the run: as written (with `<S>`), as used, its attribute count, and a short id that
    names its images and results."""

    written: str
    text: str
    attribute_count: int
    id: str


def make_prompt(written: str, subject: str = DEFAULT_SUBJECT) -> EvalPrompt:
    from freecure_edit.prompts import parse_prompt

    text = " ".join(written.replace(SUBJECT_PLACEHOLDER, subject).split())
    count = len(parse_prompt(text).attributes)
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]
    return EvalPrompt(written, text, count, f"{slug}-{digest}")


def load_prompts(path: Path | None = None, texts: tuple[str, ...] = (), subject: str = DEFAULT_SUBJECT) -> list[EvalPrompt]:
    """The run's prompts: `texts` if given, else the rows of `path`, else the paper's 20. Duplicates
    are dropped (the first stays); a file without one usable prompt is refused."""
    if not subject.strip():
        raise ConfigurationError("--subject must not be empty")
    if texts:
        written = [text for text in texts if text.strip()]
        if not written:
            raise ConfigurationError("--prompt is empty")
    elif path is not None:
        written = read_prompt_file(path)
    else:
        written = list(PAPER_PROMPTS)
    prompts, seen = [], set()
    for text in written:
        prompt = make_prompt(text, subject.strip())
        if prompt.text not in seen:
            seen.add(prompt.text)
            prompts.append(prompt)
    return prompts


def read_prompt_file(path: Path) -> list[str]:
    """The `prompt` of each row of a CSV (with a header) or JSONL file; blank rows are skipped."""
    prompts = []
    for _, values in read_records(path):
        value = values.get("prompt")
        if isinstance(value, str) and value.strip():
            prompts.append(value.strip())
    if not prompts:
        raise ConfigurationError(f"--prompts {path}: no usable prompt (expected a 'prompt' column or key)")
    return prompts
