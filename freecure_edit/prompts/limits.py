"""Which attributes fall past the text encoder's token limit.

CLIP reads 77 tokens: a start token, 75 of the prompt, an end token; diffusers cuts the rest. An
attribute whose words lie (even partly) past the cut was never seen by the foundation branch, so curing
it would regenerate its region without the words that asked for it: it is left out, with a warning
that names it. We warn rather than encode in chunks (A1111 and compel concatenate 77-token chunks)
because the cure's token maps, SDXL's pooled embedding and the photo branch's batched prompts all
assume one 77-token sequence; the fix on the user's side is one edit: shorter, attributes first.

With the model's tokenizer the count is exact. Without one (`explain` loads no model) it is a lower
bound from CLIP's own pre-tokenisation: every letter run, every digit and every punctuation run is at
least one token, so an attribute flagged by the estimate is certainly past the cut.
"""

from __future__ import annotations

import re
from typing import Any

from freecure_edit.prompts.model import Attribute
from freecure_edit.prompts.tokens import character_spans, stated_length

CLIP_MAX_LENGTH = 77

# CLIP's pre-tokeniser (letters, single digits, punctuation runs), for text without its tokenizer.
_CLIP_PIECES = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+", re.IGNORECASE)


def _ends_estimated(prompt: str) -> list[int]:
    """Character end of each token the estimate counts, in order."""
    return [m.end() for m in _CLIP_PIECES.finditer(prompt.lower())]


def _ends_from_tokenizer(tokenizer: Any, prompt: str) -> list[int] | None:
    try:
        encoding = tokenizer(
            prompt, return_offsets_mapping=True, truncation=False, add_special_tokens=False, verbose=False
        )
        offsets = encoding["offset_mapping"]
    except (NotImplementedError, KeyError, TypeError, ValueError):
        return None
    return [end for _, end in offsets]


def _ends_word_by_word(tokenizer: Any, prompt: str) -> list[int]:
    ends: list[int] = []
    for match in re.finditer(r"\S+", prompt):
        count = len(tokenizer(match.group(), add_special_tokens=False, verbose=False)["input_ids"])
        ends += [match.end()] * count
    return ends


def prompt_token_ends(prompt: str, tokenizer: Any | None = None) -> tuple[list[int], bool]:
    """(character end of each prompt token, exact?): exact with `tokenizer`, a lower bound without."""
    if tokenizer is None:
        return _ends_estimated(prompt), False
    ends = _ends_from_tokenizer(tokenizer, prompt)
    return (ends if ends is not None else _ends_word_by_word(tokenizer, prompt)), True


def readable_end(prompt: str, tokenizer: Any | None = None) -> tuple[int | None, int, int, bool]:
    """(character offset where the encoder stops reading, or None when it reads it all; the prompt's
    token count; the tokens the encoder reads; exact?)."""
    ends, exact = prompt_token_ends(prompt, tokenizer)
    limit = stated_length(tokenizer, CLIP_MAX_LENGTH) if tokenizer is not None else CLIP_MAX_LENGTH
    room = max(1, limit - 2)  # the start and end tokens take two places
    if len(ends) <= room:
        return None, len(ends), room, exact
    return ends[room - 1], len(ends), room, exact


def past_the_limit(
    prompt: str, attributes: list[Attribute], tokenizer: Any | None = None
) -> tuple[list[Attribute], str | None]:
    """The attributes the encoder never sees in full, and a warning naming them (None when none)."""
    cut, count, room, exact = readable_end(prompt, tokenizer)
    if cut is None:
        return [], None
    past = [a for a in attributes if any(end > cut for _, end in character_spans(prompt, a))]
    if not past:
        return [], None
    names = ", ".join(f"{a.text!r} ({a.name})" for a in past)
    size = f"{count} tokens" if exact else f"at least {count} tokens"
    warning = (
        f"the prompt is {size}, past the text encoder's limit of {room}; it never sees "
        f"{names}, so {'it is' if len(past) == 1 else 'they are'} not cured: shorten the prompt or name "
        "the attributes first"
    )
    return past, warning
