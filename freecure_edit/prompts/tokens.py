"""Which token positions of an encoded prompt belong to given words.

The pipeline reads cross-attention maps per attribute, so it needs the positions of the attribute's
tokens in the prompt exactly as the text encoder sees them (start token at 0). Character offsets from
the tokenizer give that for any BPE merging; tokenizers without offsets are handled word by word,
which gives the same positions for CLIP because its BPE never merges across whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from freecure_edit.prompts.model import Attribute

_WORD_EDGE_BEFORE = r"(?<![^\W_])"
_WORD_EDGE_AFTER = r"(?![^\W_])"


def _spans_of_phrase(prompt: str, phrase: str) -> list[tuple[int, int]]:
    words = [re.escape(w) for w in phrase.split()]
    if not words:
        return []
    pattern = _WORD_EDGE_BEFORE + r"\W+".join(words) + _WORD_EDGE_AFTER
    spans = [m.span() for m in re.finditer(pattern, prompt, flags=re.IGNORECASE)]
    if spans or len(words) == 1:
        return spans
    # The words are not together in the prompt: take each on its own.
    return [span for word in phrase.split() for span in _spans_of_phrase(prompt, word)]


def character_spans(prompt: str, words: str | Sequence[str] | Attribute) -> list[tuple[int, int]]:
    """Where `words` occur in `prompt`: an attribute's own span, or every whole-word match."""
    if isinstance(words, Attribute):
        return [words.span] if words.span is not None else _spans_of_phrase(prompt, words.text)
    if isinstance(words, str):
        return _spans_of_phrase(prompt, words)
    return [span for entry in words for span in character_spans(prompt, entry)]


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return end > start and any(start < b and end > a for a, b in spans)


# Past this a tokenizer's model_max_length is transformers' "unset" (int(1e30), for tokenizers saved
# without one, as from some T5 checkpoints), not a length any encoder reads.
UNSET_LENGTH = 1_000_000


def stated_length(tokenizer: Any, default: int | None = None) -> int | None:
    """The tokenizer's own length limit, or `default` where it states none."""
    length = getattr(tokenizer, "model_max_length", None)
    return int(length) if isinstance(length, int) and 0 < length < UNSET_LENGTH else default


def _indices_word_by_word(tokenizer: Any, prompt: str, spans: list[tuple[int, int]], length: int | None) -> list[int]:
    empty = tokenizer("")["input_ids"]
    position = 1 if empty and getattr(tokenizer, "bos_token_id", None) == empty[0] else 0
    limit = (length or UNSET_LENGTH) - 1  # the end token takes the last slot
    indices = []
    for match in re.finditer(r"\S+", prompt):
        count = len(tokenizer(match.group(), add_special_tokens=False)["input_ids"])
        if _overlaps(match.start(), match.end(), spans):
            indices += [p for p in range(position, position + count) if p < limit]
        position += count
    return indices


def token_indices(tokenizer: Any, prompt: str, words: str | Sequence[str] | Attribute,
                  max_length: int | None = None) -> list[int]:
    """Positions in `tokenizer(prompt).input_ids` of the tokens that cover `words` (a phrase, a list of
    words, or an Attribute of this prompt). Empty when the words are not in the prompt or were cut off
    at `max_length` (the pipeline's own sequence length; default: the tokenizer's stated limit)."""
    spans = character_spans(prompt, words)
    if not spans:
        return []
    length = max_length or stated_length(tokenizer)
    try:
        encoding = tokenizer(prompt, return_offsets_mapping=True, truncation=length is not None, max_length=length)
        offsets = encoding["offset_mapping"]
    except (NotImplementedError, KeyError, TypeError, ValueError):
        return _indices_word_by_word(tokenizer, prompt, spans, length)
    return [index for index, (start, end) in enumerate(offsets) if _overlaps(start, end, spans)]
