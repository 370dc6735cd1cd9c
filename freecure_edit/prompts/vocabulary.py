"""The words the prompt parser knows, and what each one means for the face.

Words are stored lower-case and singular; `lookup_concept` handles plurals and hyphenated forms. A word
that is not here is never matched by a substring of it ("chair" is not "hair").
"""

from __future__ import annotations

from dataclasses import dataclass

SPATIAL = "spatial"
ABSTRACT = "abstract"

# How a word behaves inside a phrase:
# - NOUN heads an attribute and takes the modifiers before it ("black curly hair");
# - ADJECTIVE is a whole attribute on its own ("a blonde woman") but only a modifier when a noun of
#   the same phrase follows it ("blonde curly hair");
# - EXPRESSION words next to each other form one attribute ("laughing happily").
NOUN = "noun"
ADJECTIVE = "adjective"
EXPRESSION = "expression"


@dataclass(frozen=True)
class Concept:
    """What a recognised word stands for: an attribute name, its kind and its parser labels."""

    name: str
    kind: str
    labels: tuple[str, ...]
    role: str


def _spatial(name: str, labels: tuple[str, ...], role: str = NOUN) -> Concept:
    return Concept(name, SPATIAL, labels, role)


def _abstract(name: str, role: str = NOUN) -> Concept:
    return Concept(name, ABSTRACT, (), role)


_HAIR = _spatial("hair", ("hair",))
_HAIR_ADJECTIVE = _spatial("hair", ("hair",), ADJECTIVE)
_EYES = _spatial("eyes", ("l_eye", "r_eye"))
_BROWS = _spatial("eyebrows", ("l_brow", "r_brow"))
_GLASSES = _spatial("glasses", ("eye_g",))
_SUNGLASSES = _spatial("sunglasses", ("eye_g",))
_EARRINGS = _spatial("earrings", ("ear_r",))
_HAT = _spatial("hat", ("hat",))
_NECKLACE = _spatial("necklace", ("neck_l",))
_LIPS = _spatial("lips", ("u_lip", "l_lip"))
_MOUTH = _spatial("mouth", ("mouth", "u_lip", "l_lip"))
_CLOTHES = _spatial("clothes", ("cloth",))
_EXPRESSION = _abstract("expression", EXPRESSION)

CONCEPTS: dict[str, Concept] = {
    # Hair: colour, style and length all live in the parser's hair region.
    **dict.fromkeys(
        ["hair", "haired", "hairstyle", "haircut", "hairdo", "ponytail", "pigtail", "braid", "curl",
         "bangs", "fringe", "locks", "dreadlock", "afro", "mohawk", "bob", "bun", "updo", "buzzcut"],
        _HAIR,
    ),
    **dict.fromkeys(["blonde", "blond", "brunette", "redhead", "redheaded", "bald", "curly", "wavy"],
                    _HAIR_ADJECTIVE),
    **dict.fromkeys(["eye", "eyed", "iris", "eyelash", "lash", "eyeshadow", "eyeliner", "mascara"], _EYES),
    **dict.fromkeys(["eyebrow", "brow", "browed"], _BROWS),
    **dict.fromkeys(["glasses", "eyeglasses", "spectacles", "goggles", "monocle"], _GLASSES),
    "bespectacled": _spatial("glasses", ("eye_g",), ADJECTIVE),
    **dict.fromkeys(["sunglasses", "shades"], _SUNGLASSES),
    **dict.fromkeys(["earring", "stud", "hoop"], _EARRINGS),
    **dict.fromkeys(["hat", "cap", "beanie", "beret", "fedora", "helmet", "headscarf", "turban",
                     "bandana", "hood", "crown", "tiara", "headband"], _HAT),
    **dict.fromkeys(["necklace", "choker", "pendant", "chain"], _NECKLACE),
    **dict.fromkeys(["lip", "lipstick", "lipped", "lipgloss"], _LIPS),
    **dict.fromkeys(["mouth", "teeth", "tooth"], _MOUTH),
    "nose": _spatial("nose", ("nose",)),
    **dict.fromkeys(["ear", "eared"], _spatial("ears", ("l_ear", "r_ear"))),
    **dict.fromkeys(["skin", "complexion", "skinned"], _spatial("skin", ("skin",))),
    "neck": _spatial("neck", ("neck",)),
    **dict.fromkeys(["shirt", "tshirt", "blouse", "jacket", "suit", "sweater", "hoodie", "coat", "dress",
                     "clothes", "clothing", "tie", "scarf", "uniform", "collar"], _CLOTHES),
    # No face parser has a label for these: they go to APG with the expressions.
    **dict.fromkeys(["beard", "bearded", "stubble", "goatee", "sideburn"], _abstract("beard")),
    **dict.fromkeys(["mustache", "moustache", "mustached", "moustached"], _abstract("mustache")),
    **dict.fromkeys(["freckle", "freckled"], _abstract("freckles")),
    **dict.fromkeys(["wrinkle", "wrinkled"], _abstract("wrinkles")),
    **dict.fromkeys(["makeup", "blush"], _abstract("makeup")),
    **dict.fromkeys(["dimple", "dimpled"], _abstract("dimples")),
    "mole": _abstract("mole"),
    "scar": _abstract("scar"),
    "tattoo": _abstract("tattoo"),
    # Face-level looks with no parser label of their own: words that are not here are taken as not
    # about the face and left out of the cure, so the face's own parts must all be known.
    **dict.fromkeys(["cheek", "cheekbone"], _abstract("cheeks")),
    **dict.fromkeys(["chin"], _abstract("chin")),
    **dict.fromkeys(["jaw", "jawline"], _abstract("jaw")),
    "forehead": _abstract("forehead"),
    **dict.fromkeys(["face", "facial", "features"], _abstract("face")),
    **dict.fromkeys(["tan", "tanned", "suntanned", "sunburn", "sunburned", "sunburnt"], _abstract("tan")),
    **dict.fromkeys(["acne", "pimple", "blemish", "spot"], _abstract("blemishes")),
    **dict.fromkeys(["piercing", "pierced"], _abstract("piercing")),
    "eyepatch": _abstract("eyepatch"),
    # Expressions and emotions, with the adverbs that carry them ("frowning worriedly").
    **dict.fromkeys(
        ["laughing", "laugh", "smiling", "smile", "smiley", "grinning", "grin", "smirking", "smirk",
         "angry", "anger", "furious", "mad", "annoyed", "irritated", "frowning", "frown", "scowling", "scowl",
         "worried", "worry", "anxious", "nervous", "unhappy", "sad", "sadness", "sorrowful", "gloomy",
         "depressed", "upset", "crying", "tearful", "surprised", "surprise", "shocked", "astonished",
         "amazed", "happy", "happiness", "joyful", "joy", "cheerful", "delighted", "excited", "serious",
         "stern", "scared", "afraid", "fearful", "frightened", "terrified", "disgusted", "disgust",
         "sleepy", "tired", "bored", "calm", "neutral", "pensive", "thoughtful", "confused", "puzzled",
         "pouting", "pout", "sulking", "shouting", "screaming", "yelling", "winking", "wink", "grumpy",
         "content", "relaxed", "proud", "embarrassed", "shy", "smug", "expressionless", "emotionless",
         "happily", "sadly", "angrily", "worriedly", "joyfully", "cheerfully", "nervously", "anxiously",
         "playfully", "warmly", "gleefully", "furiously", "sternly", "seriously", "shyly", "smugly",
         "gloomily", "sorrowfully", "fearfully", "calmly"],
        _EXPRESSION,
    ),
}

# Hyphens are dropped before look-up ("sun-glasses", "ear-rings", "t-shirt"); these compounds are
# also written as two words.
TWO_WORD_COMPOUNDS: frozenset[str] = frozenset(
    {"eyeglasses", "sunglasses", "earring", "eyebrow", "eyelash", "lipstick", "hairstyle", "haircut",
     "ponytail", "eyeshadow", "eyeliner", "headband", "headscarf", "tshirt"}
)

# Forms whose singular is not a suffix rule away.
IRREGULAR_SINGULARS: dict[str, str] = {
    "teeth": "teeth", "men": "man", "women": "woman", "children": "child", "people": "person",
    "glasses": "glasses", "sunglasses": "sunglasses", "eyeglasses": "eyeglasses", "clothes": "clothes",
    "bangs": "bangs", "locks": "locks", "goggles": "goggles", "spectacles": "spectacles", "shades": "shades",
}

# Words that carry an expression without being one ("very angry looking", "a happy expression").
EXPRESSION_FILLERS: frozenset[str] = frozenset(
    {"looking", "look", "looks", "expression", "face", "mood", "feeling", "emotion", "very", "slightly",
     "really", "extremely", "quite", "so", "bit", "little", "somewhat", "visibly", "broadly", "big", "wide"}
)

# Words that only describe the next noun; a phrase made only of these leans on the next phrase
# ("black and white hair").
COLOURS: frozenset[str] = frozenset(
    {"black", "white", "blonde", "blond", "brown", "red", "blue", "green", "grey", "gray", "silver",
     "golden", "gold", "pink", "purple", "violet", "orange", "yellow", "hazel", "amber", "platinum",
     "auburn", "ginger", "pearl", "pearly", "crimson", "turquoise", "teal"}
)
# The colours a grayscale image can show as asked.
GRAYS: frozenset[str] = frozenset({"black", "white", "grey", "gray", "silver"})
MODIFIERS: frozenset[str] = COLOURS | frozenset(
    {"dark", "light", "pale", "bright", "curly", "straight", "wavy", "long", "short", "thick", "thin",
     "messy", "neat", "shiny", "big", "small", "large", "round", "very", "slightly", "really", "extremely",
     "quite", "deep", "bold"}
)

# Nouns for the person in the photo: the template ends with one of these.
SUBJECT_NOUNS: frozenset[str] = frozenset(
    {"man", "woman", "boy", "girl", "person", "child", "kid", "lady", "gentleman", "guy", "gal",
     "teenager", "teen", "adult", "baby", "toddler", "male", "female", "human", "individual", "model",
     "people", "actor", "actress", "student"}
)

# Words that start a new phrase. A phrase that names nothing on the face and starts with a scene
# preposition describes the setting and stays in the template ("in a park").
CONNECTORS: frozenset[str] = frozenset(
    {"with", "wearing", "wears", "wear", "has", "have", "having", "and", "or", "who", "whose", "is",
     "are", "while", "that", "which", "dressed", "sporting", "featuring", "showing", "without"}
)
SCENE_PREPOSITIONS: frozenset[str] = frozenset(
    {"in", "at", "on", "under", "near", "by", "against", "behind", "inside", "outside", "beside", "from"}
)
REMOVAL_CONNECTORS: frozenset[str] = frozenset({"without"})
REMOVAL_MARKERS: frozenset[str] = frozenset({"no", "not"})

# Image-quality and framing words: never a facial attribute, so they stay in the template.
STYLE_WORDS: frozenset[str] = frozenset(
    {"photo", "photograph", "picture", "image", "portrait", "closeup", "headshot", "selfie", "of", "a",
     "an", "the", "high", "best", "quality", "detailed", "highly", "ultra", "realistic", "photorealistic",
     "masterpiece", "8k", "4k", "hd", "uhd", "raw", "dslr", "cinematic", "lighting", "light", "sharp",
     "focus", "resolution", "professional", "studio", "natural", "soft", "film", "grain", "analog"}
)

# Style words that say what any photo is: kept in the template without a note.
FRAMING_WORDS: frozenset[str] = frozenset(
    {"photo", "photograph", "picture", "image", "portrait", "closeup", "headshot", "selfie", "of"}
)

# Leading words dropped from an attribute's text ("a pair of sunglasses" -> "sunglasses").
DETERMINERS: frozenset[str] = frozenset(
    {"a", "an", "the", "some", "any", "his", "her", "their", "its", "my", "one", "pair", "of"}
)


def singular_candidates(word: str) -> list[str]:
    """The word itself, then its possible singulars, most likely first."""
    if word in IRREGULAR_SINGULARS:
        return [IRREGULAR_SINGULARS[word]]
    candidates = [word]
    if word.endswith("ies") and len(word) > 4:
        candidates.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 3:
        candidates.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        candidates.append(word[:-1])
    return candidates


def lookup(table: dict[str, Concept] | frozenset[str], word: str) -> str | None:
    """The singular form of `word` (lower case, hyphens dropped) found in `table`, or None."""
    for candidate in singular_candidates(word):
        if candidate in table:
            return candidate
    return None


def lookup_concept(word: str) -> Concept | None:
    """The concept of one written word, trying the whole word and then the last part of a hyphenated
    one ("curly-haired" -> hair, "blue-eyed" -> eyes)."""
    lowered = word.lower().replace("’", "'")
    if lowered.endswith("'s"):
        lowered = lowered[:-2]
    joined = lowered.replace("-", "")
    key = lookup(CONCEPTS, joined)
    if key is not None:
        return CONCEPTS[key]
    if "-" in lowered:
        key = lookup(CONCEPTS, lowered.rsplit("-", 1)[1])
        if key is not None:
            return CONCEPTS[key]
    return None
