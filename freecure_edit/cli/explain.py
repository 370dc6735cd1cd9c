"""`freecure-edit explain --prompt TEXT`: how a prompt is read, without loading any model.

Spatial attributes (a region the face parser can find: hair, eyes, glasses...) are cured by FASA inside
their mask; abstract ones (expressions, and words the parser does not know) by APG over the face.
"""

from __future__ import annotations

import json

import click

from freecure_edit.cli.failures import reported_errors

ROUTES = {"spatial": "FASA", "abstract": "APG"}


def attribute_report(attribute) -> dict:
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


def prompt_report(parsed) -> dict:
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


def _attribute_line(attribute: dict) -> str:
    labels = "labels " + ", ".join(attribute["labels"]) if attribute["labels"] else "no region (whole face)"
    notes = []
    if attribute["remove"]:
        notes.append("removed: in the foundation branch's negative prompt")
    if not attribute["known"]:
        notes.append("not a known face word, treated as abstract")
    extra = f"  ({'; '.join(notes)})" if notes else ""
    return (f"  {attribute['name']:<12} {attribute['kind']:<9} -> {attribute['route']:<5} "
            f"{attribute['text']!r}, {labels}{extra}")


def settings_report(model: str, model_config: str | None, steps: int | None, guidance: float | None) -> dict:
    """The sampling settings a cure with `model` would use: the user's, or else the model's own."""
    from freecure_edit.config import CureConfig
    from freecure_edit.model_family import model_defaults_for

    defaults = model_defaults_for(model, model_config)
    asked = CureConfig(steps=steps, guidance=guidance)
    used = asked.with_model_defaults(defaults)
    return {"model": model, "family": defaults.name, "steps": used.steps, "guidance": used.guidance,
            "guidance_used": defaults.guidance_used, "true_cfg": used.true_cfg, "from_model": asked.from_model()}


def _settings_line(settings: dict) -> str:
    guidance = f"guidance {settings['guidance']:g}" if settings["guidance_used"] else "no guidance input"
    line = f"settings:  {settings['steps']} steps, {guidance}"
    if settings["true_cfg"] is not None:
        line += f", true CFG {settings['true_cfg']:g} for removals"
    chosen = settings["from_model"]
    return line + (f"  ({', '.join(chosen)}: {settings['family']}'s defaults)" if chosen else "")


def text_report(report: dict) -> str:
    lines = [f"prompt:    {report['prompt']}", f"template:  {report['template']}  (inverts the photo)"]
    if report["source"] != report["prompt"]:
        lines[0] += "  (as the text encoder gets it)"
    if report["negative_prompt"]:
        lines.append(f"negative:  {report['negative_prompt']}  (the foundation branch avoids it)")
    if report["attributes"]:
        lines.append("attributes:")
        lines.extend(_attribute_line(attribute) for attribute in report["attributes"])
    else:
        lines.append("attributes: none; `fix` would leave the photo unchanged")
    if "settings" in report:
        lines.append(_settings_line(report["settings"]))
    if report["notes"]:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in report["notes"])
    return "\n".join(lines)


@click.command("explain")
@click.option("-p", "--prompt", required=True, help="The prompt to read, as given to `fix`.")
@click.option("--template", help="Override the subject template, as `fix --template` does.")
@click.option("--attribute", "attributes", multiple=True, metavar="PHRASE",
              help="Override the attributes, as `fix --attribute` does; repeat for several.")
@click.option("--model", help="Also show the steps and guidance a cure with this model (as `fix --model` takes "
              "it) would use; read from its files, no weights are loaded.")
@click.option("--model-config", help="As `fix --model-config`, for a single checkpoint file.")
@click.option("--steps", type=click.IntRange(min=1), help="With --model: the steps `fix --steps` would be given.")
@click.option("--guidance", type=click.FloatRange(min=1.0), help="With --model: the guidance `fix` would be given.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def explain(prompt: str, template: str | None, attributes: tuple[str, ...], model: str | None,
            model_config: str | None, steps: int | None, guidance: float | None, as_json: bool, debug: bool) -> None:
    """Show the template and the attributes PROMPT names: kind, parser labels, removal, FASA or APG;
    with --model, the steps and guidance a cure would use."""
    with reported_errors(debug):
        from freecure_edit.prompts import parse_prompt

        parsed = parse_prompt(prompt, template=template, attributes=list(attributes) or None)
        report = prompt_report(parsed)
        if model is not None:
            report["settings"] = settings_report(model, model_config, steps, guidance)
        click.echo(json.dumps(report, ensure_ascii=False) if as_json else text_report(report))
