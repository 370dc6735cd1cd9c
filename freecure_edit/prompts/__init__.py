"""Prompts: split a user prompt into a subject template and the facial attributes to cure.

Pure Python, no torch: the CLI can parse and report prompts without loading any model.

May import errors.py only.
"""

from __future__ import annotations

from freecure_edit.prompts.model import Attribute, ParsedPrompt
from freecure_edit.prompts.parse import DEFAULT_TEMPLATE, parse_prompt
from freecure_edit.prompts.tokens import character_spans, token_indices

__all__ = ["Attribute", "DEFAULT_TEMPLATE", "ParsedPrompt", "character_spans", "parse_prompt", "token_indices"]
