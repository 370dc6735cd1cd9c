"""What a parsed prompt is: a subject template and the attributes to cure."""

from __future__ import annotations

from dataclasses import dataclass, field

from freecure_edit.prompts.vocabulary import ABSTRACT, SPATIAL


@dataclass(frozen=True)
class Attribute:
    """One facial attribute of a prompt: one region noun or one expression, with its modifiers.

    `text` is the attribute's words as written, without a removal word ("glasses" in "without
    glasses"). `name` is a short key, unique within its prompt ("hair", "hair_2"). `labels` are the
    canonical face-parser labels of a spatial attribute, empty for an abstract one. `span` is where
    `text` sits in the prompt (character offsets), None when an override phrase is not in it.
    `known` is False for words the parser does not recognise; they are kept as abstract attributes.
    """

    text: str
    name: str
    kind: str
    labels: tuple[str, ...] = ()
    remove: bool = False
    span: tuple[int, int] | None = None
    known: bool = True

    @property
    def is_spatial(self) -> bool:
        return self.kind == SPATIAL


@dataclass(frozen=True)
class ParsedPrompt:
    """A prompt split into the subject (`template`, used for inversion) and its attributes.

    `prompt` is what the text encoder gets: the user's prompt (`source`) with A1111/ComfyUI syntax
    taken out. `notes` tell the user what was not taken as asked: syntax dropped or ignored, attributes
    past the token limit (`past_limit`), phrases that are not about the face (`off_face`), which are
    kept in the template and not cured. The notes are what `explain` prints and a cure warns.
    """

    prompt: str
    template: str
    attributes: list[Attribute] = field(default_factory=list)
    source: str | None = None
    notes: list[str] = field(default_factory=list)
    off_face: list[str] = field(default_factory=list)
    past_limit: list[Attribute] = field(default_factory=list)
    weights: list[tuple[str, float]] = field(default_factory=list)
    dropped_tags: list[str] = field(default_factory=list)

    @property
    def spatial(self) -> list[Attribute]:
        return [a for a in self.attributes if a.kind == SPATIAL]

    @property
    def abstract(self) -> list[Attribute]:
        return [a for a in self.attributes if a.kind == ABSTRACT]

    @property
    def removals(self) -> list[Attribute]:
        return [a for a in self.attributes if a.remove]

    @property
    def negative_prompt(self) -> str:
        """The removed objects, for the foundation branch's negative prompt ("" when none)."""
        return ", ".join(a.text for a in self.removals)
