"""The result of a prompt that names no facial attribute: the photo unchanged, with a warning saying
why, made without loading any model (`fix` and `batch` both write it, as the library would)."""

from __future__ import annotations


def unchanged_result(loaded, prompt: str, parsed, config):
    from freecure_edit.cure.result import CureResult

    message = (
        f"the prompt {prompt!r} names no facial attribute to cure, so the output is the photo unchanged; "
        "`freecure-edit explain --prompt ...` shows how a prompt is read"
    )
    return CureResult(loaded.rgb.copy(), None, None, None, {}, [], parsed.template, config, [message])
