"""Prompt -> template + attributes.

The prompt is cut into phrases at punctuation and connector words ("with", "wearing", "and", "in"...).
The phrase that holds the subject noun ("a photo of a woman") becomes the template, less any attribute
word inside it ("a smiling woman" -> "a woman"). Every other phrase yields its attributes: each region
noun or run of expression words heads one attribute and takes the words before it as modifiers.
Phrases that name nothing on the face are kept: scene ("in a park") and style ("8k") phrases go to
the template, anything else becomes an abstract attribute marked unknown, so no word is ever dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from freecure_edit.errors import ConfigurationError
from freecure_edit.prompts.characters import normalised_prompt
from freecure_edit.prompts.limits import past_the_limit
from freecure_edit.prompts.model import Attribute, ParsedPrompt
from freecure_edit.prompts.syntax import read_syntax
from freecure_edit.prompts.vocabulary import (
    ABSTRACT,
    ADJECTIVE,
    CONNECTORS,
    DETERMINERS,
    EXPRESSION,
    EXPRESSION_FILLERS,
    FRAMING_WORDS,
    MODIFIERS,
    NOUN,
    REMOVAL_CONNECTORS,
    REMOVAL_MARKERS,
    SCENE_PREPOSITIONS,
    STYLE_WORDS,
    SUBJECT_NOUNS,
    Concept,
    lookup,
    lookup_concept,
    singular_candidates,
)

DEFAULT_TEMPLATE = "a person"

_TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*|[,;.!?:()\[\]]")
_PUNCTUATION = frozenset(",;.!?:()[]")
_LIST_JOINERS = frozenset({",", "and", "or"})


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int

    @property
    def is_punctuation(self) -> bool:
        return self.text in _PUNCTUATION

    @property
    def key(self) -> str:
        """Lower case, possessive and hyphens dropped: the form the word lists use."""
        word = self.text.lower().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        return word.replace("-", "")

    @property
    def concept(self) -> Concept | None:
        return None if self.is_punctuation else lookup_concept(self.text)


@dataclass
class _Phrase:
    tokens: list[_Token]
    opener: _Token | None
    removing: bool
    removal_carries: bool = False

    @property
    def opener_key(self) -> str | None:
        if self.opener is None:
            return None
        return "," if self.opener.is_punctuation else self.opener.key


@dataclass(frozen=True)
class _Draft:
    """An attribute before it is named: its words in `source` and what they mean."""

    source: str
    tokens: tuple[_Token, ...]
    concept: Concept | None
    remove: bool

    @property
    def span(self) -> tuple[int, int]:
        return self.tokens[0].start, self.tokens[-1].end

    @property
    def text(self) -> str:
        start, end = self.span
        return self.source[start:end]


def _tokenize(text: str) -> list[_Token]:
    return [_Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _split_phrases(tokens: list[_Token]) -> list[_Phrase]:
    phrases: list[_Phrase] = []
    current = _Phrase([], None, False)
    for token in tokens:
        key = token.key
        starts_phrase = (
            token.is_punctuation or key in CONNECTORS or key in SCENE_PREPOSITIONS or key in REMOVAL_MARKERS
        )
        if not starts_phrase:
            current.tokens.append(token)
            continue
        opener_key = "," if token.is_punctuation else key
        # "without glasses or hats" and "not wearing glasses or a hat" remove both; "no" belongs to
        # its own noun ("no earrings and a red hat"); a comma or a new connector ends any removal.
        carried = opener_key in ("and", "or") and current.removal_carries
        removing = key in REMOVAL_CONNECTORS or key in REMOVAL_MARKERS or carried
        carries = key in REMOVAL_CONNECTORS or key == "not" or carried
        if current.tokens:
            phrases.append(current)
        else:
            # "with no glasses", "not wearing a hat": the marker and the connector open one phrase.
            removing = removing or current.removing
            carries = carries or current.removal_carries
        current = _Phrase([], token, removing, carries)
    if current.tokens:
        phrases.append(current)
    return phrases


def _is_subject(token: _Token) -> bool:
    return not token.is_punctuation and lookup(SUBJECT_NOUNS, token.key) is not None


def _has_anchor(tokens: list[_Token]) -> bool:
    return any(t.concept is not None for t in tokens)


def _has_noun(tokens: list[_Token]) -> bool:
    return any(t.concept is not None and t.concept.role == NOUN for t in tokens)


def _is_leaning(tokens: list[_Token]) -> bool:
    """Only colours, styles and hair adjectives: words waiting for a noun in the next phrase."""
    for token in tokens:
        concept = token.concept
        if concept is not None and concept.role != ADJECTIVE:
            return False
        if concept is None and token.key not in MODIFIERS and token.key not in DETERMINERS:
            return False
    return bool(tokens)


def _leans_on_next(tokens: list[_Token], phrases: list[_Phrase], number: int) -> bool:
    """True for "black" in "black and white hair": the colours belong to the next phrase's noun."""
    following = phrases[number + 1] if number + 1 < len(phrases) else None
    return (
        _is_leaning(tokens)
        and following is not None
        and following.opener_key in _LIST_JOINERS
        and _has_noun(following.tokens)
    )


def _is_style(tokens: list[_Token]) -> bool:
    return all(t.key in STYLE_WORDS or t.key in DETERMINERS or t.key.isdigit() for t in tokens)


def _is_framing(tokens: list[_Token]) -> bool:
    """"a photo of", "portrait": what any photo is, not worth a note."""
    return all(t.key in FRAMING_WORDS or t.key in DETERMINERS for t in tokens)


def _strip_determiners(tokens: list[_Token]) -> list[_Token]:
    index = 0
    while index < len(tokens) and tokens[index].key in DETERMINERS:
        index += 1
    return tokens[index:]


def _extract(source: str, tokens: list[_Token], removing: bool) -> list[_Draft]:
    """The attributes of one phrase: each head takes the words since the previous head."""
    concepts = [t.concept for t in tokens]
    heads: list[tuple[int, Concept]] = []  # (index of the head's last word, concept)
    index = 0
    while index < len(tokens):
        concept = concepts[index]
        if concept is None:
            index += 1
            continue
        if concept.role == EXPRESSION:
            end = index
            while end + 1 < len(tokens) and (
                (concepts[end + 1] is not None and concepts[end + 1].role == EXPRESSION)
                or tokens[end + 1].key in EXPRESSION_FILLERS
            ):
                end += 1
            heads.append((end, concept))
            index = end + 1
            continue
        if concept.role == ADJECTIVE and _has_noun(tokens[index + 1 :]):
            index += 1  # "blonde curly hair": the adjective only describes the noun
            continue
        heads.append((index, concept))
        index += 1

    if not heads:
        words = _strip_determiners(tokens)
        return [_Draft(source, tuple(words), None, removing)] if words else []
    drafts = []
    start = 0
    for number, (end, concept) in enumerate(heads):
        if number == len(heads) - 1:
            end = len(tokens) - 1  # trailing words ("hair, styled up") stay with the last head
        words = _strip_determiners(tokens[start : end + 1])
        start = end + 1
        if words:
            drafts.append(_Draft(source, tuple(words), concept, removing))
    return drafts


def _pre_subject_claims(tokens: list[_Token]) -> list[list[_Token]]:
    """Runs of attribute words in front of the subject noun ("a very angry man" -> ["very angry"])."""
    claimed = [False] * len(tokens)
    for index, token in enumerate(tokens):
        if token.concept is None:
            continue
        claimed[index] = True
        before = index - 1
        while before >= 0 and (tokens[before].key in MODIFIERS or tokens[before].key in EXPRESSION_FILLERS):
            claimed[before] = True
            before -= 1
    runs: list[list[_Token]] = []
    for index, token in enumerate(tokens):
        if not claimed[index]:
            continue
        if index > 0 and claimed[index - 1]:
            runs[-1].append(token)
        else:
            runs.append([token])
    return runs


def _template_words(tokens: list[_Token], removed: set[int]) -> list[str]:
    """The kept words, with "a"/"an" re-chosen where an attribute word was taken out after it."""
    words: list[str] = []
    article_at: int | None = None
    for index, token in enumerate(tokens):
        if index in removed:
            if words and words[-1].lower() in ("a", "an"):
                article_at = len(words) - 1
            continue
        if article_at is not None:
            article = "an" if token.text[:1].lower() in "aeiou" else "a"
            previous = words[article_at]
            words[article_at] = article.capitalize() if previous[:1].isupper() else article
            article_at = None
        words.append(token.text)
    return words


def _join_template(pieces: list[tuple[_Token | None, list[str]]]) -> str:
    text = ""
    for opener, words in pieces:
        phrase = " ".join(words)
        if not text:
            text = phrase
        elif opener is None or opener.is_punctuation:
            text += ", " + phrase
        else:
            text += f" {opener.text} {phrase}"
    return text


def _is_plain_word(token: _Token) -> bool:
    key = token.key
    return token.concept is None and not any(
        key in words for words in (MODIFIERS, EXPRESSION_FILLERS, DETERMINERS, STYLE_WORDS)
    )


def _find_subject(phrases: list[_Phrase]) -> tuple[int, int] | None:
    """(phrase, word) of the subject noun: a person noun, or else the plain noun that ends a first
    phrase with attribute words before it ("an angry owl")."""
    for number, phrase in enumerate(phrases):
        for index, token in enumerate(phrase.tokens):
            if _is_subject(token):
                return number, index
    if phrases:
        tokens = phrases[0].tokens
        if _has_anchor(tokens[:-1]) and _is_plain_word(tokens[-1]):
            return 0, len(tokens) - 1
    return None


def _words_as_written(source: str, opener: _Token | None, tokens: list[_Token]) -> str:
    start = opener.start if opener is not None and not opener.is_punctuation else tokens[0].start
    return source[start : tokens[-1].end]


def _read(source: str, phrases: list[_Phrase]) -> tuple[str, list[_Draft], list[str]]:
    """(template, attribute drafts, phrases that are not about the face). Pose, objects, scene and
    quality words describe the photo, not a face to cure: they stay in the template (which describes
    the photo for the inversion) and never reach APG, which would regenerate the whole face for them."""
    subject = _find_subject(phrases)
    subject_phrase = subject[0] if subject is not None else None
    if subject_phrase is not None:
        template_zone_end = subject_phrase
    else:
        template_zone_end = next((i for i, p in enumerate(phrases) if _has_anchor(p.tokens)), len(phrases))

    pieces: list[tuple[_Token | None, list[str]]] = []
    drafts: list[_Draft] = []
    off_face: list[str] = []
    carried: list[_Token] = []
    for number, phrase in enumerate(phrases):
        tokens = carried + phrase.tokens
        carried = []
        if subject is not None and number == subject_phrase:
            at = len(tokens) - len(phrase.tokens) + subject[1]
            runs = _pre_subject_claims(tokens[:at])
            removed = {tokens.index(t) for run in runs for t in run}
            words = _template_words(tokens[: at + 1], removed)
            words[-1] = re.sub(r"['’]s$", "", words[-1])  # "a woman's red lips" -> "a woman"
            for run in runs:
                drafts += _extract(source, run, phrase.removing)
            tokens = tokens[at + 1 :]
            if tokens and not _has_anchor(tokens) and not phrase.removing:
                # "a man sitting": the pose describes the photo.
                off_face.append(_words_as_written(source, None, tokens))
                words += [t.text for t in tokens]
                tokens = []
            pieces.append((phrase.opener, words))
            if not tokens:
                continue
        elif not _has_anchor(tokens) and (
            number < template_zone_end
            or phrase.opener_key in SCENE_PREPOSITIONS
            or _is_style(tokens)
            or any(_is_subject(t) for t in tokens)
        ):
            if number > template_zone_end or (_is_style(tokens) and not _is_framing(tokens)):
                off_face.append(_words_as_written(source, phrase.opener, tokens))
            pieces.append((phrase.opener, [t.text for t in tokens]))
            continue

        if _leans_on_next(tokens, phrases, number):
            carried = tokens
            continue
        if not _has_anchor(tokens):
            # "holding a cup of coffee": no face word, so nothing to cure.
            off_face.append(_words_as_written(source, phrase.opener, tokens))
            if not phrase.removing:
                pieces.append((phrase.opener, [t.text for t in tokens]))
            continue
        drafts += _extract(source, tokens, phrase.removing)
    return _join_template(pieces), drafts, off_face


def _unique_names(drafts: list[_Draft]) -> list[str]:
    names: list[str] = []
    for draft in drafts:
        if draft.concept is not None:
            base = draft.concept.name
        else:
            last = draft.tokens[-1].key
            base = re.sub(r"[^a-z0-9]+", "_", singular_candidates(last)[-1]).strip("_") or "attribute"
        name, suffix = base, 2
        while name in names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        names.append(name)
    return names


def _find_phrase(prompt: str, phrase: str) -> tuple[int, int] | None:
    words = [re.escape(w) for w in phrase.split()]
    if not words:
        return None
    pattern = r"(?<![^\W_])" + r"\W+".join(words) + r"(?![^\W_])"
    match = re.search(pattern, prompt, flags=re.IGNORECASE)
    return match.span() if match else None


def _attribute(draft: _Draft, name: str, offset: int | None) -> Attribute:
    concept = draft.concept
    start, end = draft.span
    span = None if offset is None else (start + offset, end + offset)
    return Attribute(
        text=draft.text,
        name=name,
        kind=concept.kind if concept else ABSTRACT,
        labels=concept.labels if concept else (),
        remove=draft.remove,
        span=span,
        known=concept is not None,
    )


def _override(prompt: str, phrase: str) -> tuple[_Draft, int | None]:
    """One user-given attribute phrase, read the way a phrase of the prompt is read."""
    drafts: list[_Draft] = []
    carried: list[_Token] = []
    phrases = _split_phrases(_tokenize(phrase))
    for number, part in enumerate(phrases):
        tokens = carried + part.tokens
        carried = []
        if _leans_on_next(tokens, phrases, number):
            carried = tokens
            continue
        drafts += _extract(phrase, tokens, part.removing)
    if len(drafts) != 1:
        raise ConfigurationError(
            f"attribute {phrase!r} names {len(drafts)} attributes; give exactly one per entry"
        )
    draft = drafts[0]
    found = _find_phrase(prompt, draft.text)
    return draft, None if found is None else found[0] - draft.span[0]


def _plain(text: str, what: str) -> str:
    plain = read_syntax(text).text
    if not plain.strip():
        raise ConfigurationError(f"the {what} {text!r} has no words once its LoRA/embedding tags and weights are read")
    return plain


def parse_prompt(
    prompt: str,
    *,
    template: str | None = None,
    attributes: list[str] | None = None,
    tokenizer: Any | None = None,
) -> ParsedPrompt:
    """Split `prompt` into a subject template and its facial attributes.

    `template` replaces the derived template; `attributes` replaces the derived attributes with the
    given phrases, each read as a single attribute ("without glasses" is a removal). A1111/ComfyUI
    syntax is read and taken out first (see `prompts.syntax`). With the model's `tokenizer`, attributes
    past its token limit are counted exactly; without one, by a lower bound. Either way they are left
    out of the attributes and named in the notes.
    """
    source = prompt
    prompt, characters_note = normalised_prompt(prompt or "")
    if not prompt or not prompt.strip():
        raise ConfigurationError("the prompt is empty: describe the face, e.g. 'a woman with blonde curly hair'")
    syntax = read_syntax(prompt)
    text = syntax.text
    if not text.strip():
        raise ConfigurationError(
            f"the prompt {prompt!r} has no words once its LoRA/embedding tags and weights are read; describe the face"
        )
    derived_template, drafts, off_face = _read(text, _split_phrases(_tokenize(text)))
    placed: list[tuple[_Draft, int | None]] = [(d, 0) for d in drafts]
    if attributes is not None:
        placed = [_override(text, _plain(phrase, "attribute")) for phrase in attributes]
        off_face = []  # the user chose the attributes
    if template is not None:
        if not template.strip():
            raise ConfigurationError("the template is empty: give the subject alone, e.g. 'a photo of a man'")
        derived_template = _plain(template.strip(), "template")
    names = _unique_names([draft for draft, _ in placed])
    found = [_attribute(draft, name, offset) for (draft, offset), name in zip(placed, names)]
    past, limit_warning = past_the_limit(text, found, tokenizer)
    notes = [characters_note] if characters_note else []
    notes += syntax.notes
    if limit_warning is not None:
        notes.append(limit_warning)
    if off_face:
        shown = ", ".join(repr(words) for words in off_face)
        notes.append(f"not about the face, so not cured (kept in the template, which describes the photo): {shown}")
    return ParsedPrompt(
        prompt=text,
        template=derived_template or DEFAULT_TEMPLATE,
        attributes=[a for a in found if a not in past],
        source=source,
        notes=notes,
        off_face=off_face,
        past_limit=past,
        weights=list(syntax.weights),
        dropped_tags=list(syntax.dropped),
    )
