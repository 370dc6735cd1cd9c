"""A1111 and ComfyUI prompt syntax -> the plain words the parser and the text encoder should see.

Users paste prompts from generation tools: "(blonde curly hair:1.3), ((smiling)), [freckles],
<lora:add_detail:0.8> BREAK a woman". Read as words, that gives a template "a woman, 1, 3" and an
attribute "lora". Here the syntax is read the way those tools read it and then taken out:

- weights "(words:1.3)", "(words)" x1.1, "[words]" /1.1 are parsed and stripped: the cure applies each
  attribute at the strength the user sets, so a weight would be silently meaningless; a note names them;
- extra-network tags "<lora:name:0.8>", "<lyco:...>", "<hypernet:...>" and ComfyUI's "embedding:name"
  are dropped with a warning: no LoRA or embedding is loaded by this tool;
- BREAK (A1111's "start a new 77-token chunk") becomes a comma, a phrase boundary;
- prompt editing "[from:to:when]" keeps what the finished image shows ("to"), alternation "[a|b]" the
  first choice, each with a note;
- escaped brackets "\\(" stay as literal words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

A1111_ATTENTION = 1.1

_EXTRA_NETWORK = re.compile(r"<\s*([A-Za-z_][\w-]*)\s*:\s*([^<>:]*)(?::[^<>]*)?>")
_ANGLE_TAG = re.compile(r"<[^<>]*>")
_EMBEDDING = re.compile(r"(?<![\w:])embedding:([\w.\-/\\]+)", re.IGNORECASE)
_BREAK = re.compile(r"(?<![\w])BREAK(?![\w])")
_EXPLICIT_WEIGHT = re.compile(r":\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*$")
_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*$")


@dataclass
class PromptSyntax:
    """The plain text of a prompt, the weights its syntax gave words, and what was dropped or changed."""

    source: str
    text: str
    weights: list[tuple[str, float]] = field(default_factory=list)  # (words, weight != 1), in order
    dropped: list[str] = field(default_factory=list)  # LoRA / embedding tags, as written
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.text != self.source


Chars = list[tuple[str, float]]


def _drop_tags(text: str, dropped: list[str]) -> str:
    def drop(match: re.Match) -> str:
        dropped.append(match.group(0))
        return " "

    text = _EXTRA_NETWORK.sub(drop, text)
    text = _ANGLE_TAG.sub(drop, text)
    return _EMBEDDING.sub(drop, text)


def _as_text(chars: Chars) -> str:
    return "".join(c for c, _ in chars)


def _scale(chars: Chars, factor: float) -> Chars:
    return [(c, w * factor) for c, w in chars]


def _split_top_level(chars: Chars, separator: str) -> list[Chars]:
    parts: list[Chars] = [[]]
    for char, weight in chars:
        if char == separator:
            parts.append([])
        else:
            parts[-1].append((char, weight))
    return parts


def _close_round(inner: Chars) -> Chars:
    match = _EXPLICIT_WEIGHT.search(_as_text(inner))
    if match is None:
        return _scale(inner, A1111_ATTENTION)
    return _scale(inner[: match.start()], float(match.group(1)))


def _close_square(inner: Chars, notes: list[str]) -> Chars:
    text = _as_text(inner)
    if "|" in text:
        choices = _split_top_level(inner, "|")
        notes.append(f"alternation [{text}] is not supported: used {_as_text(choices[0]).strip()!r}")
        return choices[0]
    parts = _split_top_level(inner, ":")
    if len(parts) in (2, 3) and _NUMBER.match(_as_text(parts[-1])):
        # [to:when] adds words part-way, [from:to:when] swaps them, [from::when] removes them: the
        # finished image shows the last text.
        final = parts[0] if len(parts) == 2 else parts[1]
        notes.append(f"prompt editing [{text}] is not supported: used {_as_text(final).strip()!r}")
        return final
    return _scale(inner, 1 / A1111_ATTENTION)


def _unbracket(text: str, notes: list[str]) -> Chars:
    """Brackets resolved into per-character weights; escaped brackets kept as characters."""
    stack: list[tuple[str, Chars]] = []
    current: Chars = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append((text[index + 1], 1.0))
            index += 2
            continue
        if char in "([":
            stack.append((char, current))
            current = []
        elif char in ")]" and stack and stack[-1][0] == "([)]"[")]".index(char)]:
            opener, outer = stack.pop()
            current = outer + (_close_round(current) if opener == "(" else _close_square(current, notes))
        elif char in ")]":
            pass  # a stray closing bracket has nothing to close: A1111 ignores it too
        else:
            current.append((char, 1.0))
        index += 1
    while stack:  # an unclosed bracket weights the rest of the prompt in A1111; here it is just dropped
        _, outer = stack.pop()
        current = outer + current
    return current


def _tidy(chars: Chars) -> Chars:
    """Spaces and commas left behind by removed syntax, collapsed: ", , a woman ," -> "a woman"."""
    out: Chars = []
    for char, weight in chars:
        if char.isspace():
            if out and not out[-1][0].isspace():
                out.append((" ", weight))
            continue
        if char == ",":
            while out and out[-1][0] in " ,":
                out.pop()
            if out:
                out.append((",", weight))
                out.append((" ", weight))
            continue
        out.append((char, weight))
    while out and out[-1][0] in " ,":
        out.pop()
    return out


def _weighted_runs(chars: Chars) -> list[tuple[str, float]]:
    runs: list[tuple[str, float]] = []
    start = 0
    for index in range(1, len(chars) + 1):
        if index == len(chars) or abs(chars[index][1] - chars[start][1]) > 1e-9:
            words = _as_text(chars[start:index]).strip(" ,")
            weight = chars[start][1]
            if words and abs(weight - 1.0) > 1e-9:
                runs.append((words, round(weight, 3)))
            start = index
    return runs


def read_syntax(prompt: str) -> PromptSyntax:
    """`prompt` with its A1111/ComfyUI syntax read and taken out; see the module's notes."""
    dropped: list[str] = []
    notes: list[str] = []
    text = _BREAK.sub(",", _drop_tags(prompt, dropped))
    chars = _tidy(_unbracket(text, notes))
    syntax = PromptSyntax(prompt, _as_text(chars), _weighted_runs(chars), dropped, notes)
    if dropped:
        names = ", ".join(tag.strip() for tag in dropped)
        syntax.notes.insert(0, f"LoRA and embedding tags are not loaded by freecure-edit and were dropped: {names}")
    if syntax.weights:
        shown = ", ".join(f"{words!r} x{weight:g}" for words, weight in syntax.weights)
        syntax.notes.append(
            f"prompt weights are not applied (each attribute is cured at the cure's strength): {shown}"
        )
    return syntax
