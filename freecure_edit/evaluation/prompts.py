"""The prompts of an evaluation: the paper's 20 (seed 003, Table 3) by default, or a CSV/JSONL file.

`<S>` in a prompt stands for the subject ("man", "woman"...), as in the paper; it is replaced with the
run's subject. Each prompt carries its number of attributes as the project's prompt parser counts them,
which is what Table 2 groups by.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from freecure_edit.errors import ConfigurationError

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
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigurationError(f"--prompts {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"--prompts {path}: cannot read it ({error})") from None
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{")
    prompts = _jsonl_prompts(path.name, text) if jsonl else _csv_prompts(path.name, text)
    if not prompts:
        raise ConfigurationError(f"--prompts {path}: no usable prompt (expected a 'prompt' column or key)")
    return prompts


def _jsonl_prompts(name: str, text: str) -> list[str]:
    prompts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"{name} line {number}: not JSON ({error.msg})") from None
        value = row.get("prompt") if isinstance(row, dict) else None
        if isinstance(value, str) and value.strip():
            prompts.append(value.strip())
    return prompts


def _csv_prompts(name: str, text: str) -> list[str]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [column.strip() for column in reader.fieldnames or []]
    if "prompt" not in columns:
        return []
    prompts = []
    for record in reader:
        if None in record:  # an unquoted comma in a prompt would silently cut it
            raise ConfigurationError(f"{name} line {reader.line_num}: more cells than the header has columns "
                                     "(quote a prompt that holds a comma)")
        value = {key.strip(): cell for key, cell in record.items()}.get("prompt")
        if isinstance(value, str) and value.strip():
            prompts.append(value.strip())
    return prompts
