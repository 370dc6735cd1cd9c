"""How a prompt is read, as data: its template, and each attribute with its kind, parser labels and route
(spatial attributes are cured by FASA inside their mask, abstract ones by APG over the face). The
command line's `explain` prints it; the web page shows it as the prompt is typed."""

from __future__ import annotations

from typing import Any

ROUTES = {"spatial": "FASA", "abstract": "APG"}


def attribute_report(attribute) -> dict[str, Any]:
    return {
        "text": attribute.text,
        "name": attribute.name,
        "kind": attribute.kind,
        "labels": list(attribute.labels),
        "remove": attribute.remove,
        "known": attribute.known,
        "span": list(attribute.span) if attribute.span is not None else None,
        "route": ROUTES[attribute.kind],
    }


def prompt_report(parsed) -> dict[str, Any]:
    attributes = [attribute_report(attribute) for attribute in parsed.attributes]
    return {
        "prompt": parsed.prompt,
        "source": parsed.source if parsed.source is not None else parsed.prompt,
        "template": parsed.template,
        "negative_prompt": parsed.negative_prompt,
        "attributes": attributes,
        "fasa": [a["name"] for a in attributes if a["route"] == "FASA"],
        "apg": [a["name"] for a in attributes if a["route"] == "APG"],
        "not_face": list(parsed.off_face),
        "past_limit": [attribute_report(attribute) for attribute in parsed.past_limit],
        "weights": [[words, weight] for words, weight in parsed.weights],
        "dropped_tags": list(parsed.dropped_tags),
        "notes": list(parsed.notes),
    }


def explain_prompt(prompt: str, *, template: str | None = None, attributes: list[str] | None = None
                   ) -> dict[str, Any]:
    """prompt_report of `prompt` read as `fix` would (with its --template and --attribute overrides)."""
    from freecure_edit.prompts import parse_prompt

    return prompt_report(parse_prompt(prompt, template=template, attributes=attributes or None))


def settings_report(model: str, model_config: str | None, steps: int | None, guidance: float | None,
                    device: str | None = None) -> dict:
    """The sampling settings a cure with `model` would use on `device` (default: the one `fix` would
    pick): the user's, or else the model's own, capped on a CPU as `fix` caps them (cure.presets)."""
    from freecure_edit.cure.config import CureConfig
    from freecure_edit.cure.presets import apply_presets
    from freecure_edit.models.devices import pick_device
    from freecure_edit.models.family import model_defaults_for

    defaults = model_defaults_for(model, model_config)
    device_type = pick_device(device).type
    values = {"steps": steps, "guidance": guidance}
    chosen, notes = apply_presets(values, {name for name, value in values.items() if value is not None},
                                  draft=False, device_type=device_type)
    asked = CureConfig(**chosen)
    used = asked.with_model_defaults(defaults)
    # A setting the model does not use (true CFG on SD, which has real CFG) is not "taken from the model".
    from_model = [name for name in asked.from_model() if getattr(used, name) is not None]
    return {"model": model, "family": defaults.name, "steps": used.steps, "guidance": used.guidance,
            "photo_guidance": used.photo_guidance,
            "guidance_used": defaults.guidance_used, "true_cfg": used.true_cfg, "from_model": from_model,
            "fd_start": used.fd_start, "fd_blend": used.fd_blend,
            "device": device_type, "notes": notes}
