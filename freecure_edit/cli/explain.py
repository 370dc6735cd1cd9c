"""`freecure-edit explain --prompt TEXT`: how a prompt is read (freecure_edit/explain.py), without
loading any model."""

from __future__ import annotations

import json

import click

from freecure_edit.cli.failures import reported_errors


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


def _settings_line(settings: dict) -> str:
    guidance = f"guidance {settings['guidance']:g}" if settings["guidance_used"] else "no guidance input"
    if settings["guidance_used"] and settings.get("photo_guidance") not in (None, settings["guidance"]):
        guidance = f"guidance {settings['photo_guidance']:g} (foundation branch {settings['guidance']:g})"
    line = f"settings:  {settings['steps']} steps, {guidance}"
    if settings["true_cfg"] is not None:
        line += f", true CFG {settings['true_cfg']:g} for removals"
    if settings.get("fd_blend"):
        line += f", the foundation's latent inside the masks (fd_blend {settings['fd_blend']:g}"
        line += f", fd_start {settings['fd_start']:g})" if settings.get("fd_start") else ")"
    chosen = settings["from_model"]
    line += f"  ({', '.join(chosen)}: {settings['family']}'s defaults)" if chosen else ""
    return line + f" on the {settings['device']}" + "".join(f"\n  - {note}" for note in settings["notes"])


def text_report(report: dict) -> str:
    lines = [f"prompt:    {report['prompt']}", f"template:  {report['template']}  (inverts the photo in `fix`; APG re-inverts with it in `generate`)"]
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
@click.option("-p", "--prompt", required=True, help="The prompt to read, as given to `fix` or `generate`.")
@click.option("--template", help="Override the subject template, as `fix --template` does.")
@click.option("--attribute", "attributes", multiple=True, metavar="PHRASE",
              help="Override the attributes, as `fix --attribute` does; repeat for several.")
@click.option("--model", help="Also show the steps and guidance a cure with this model (as `fix --model` takes "
              "it) would use; read from its files, no weights are loaded.")
@click.option("--model-config", help="As `fix --model-config`, for a single checkpoint file.")
@click.option("--steps", type=click.IntRange(min=1), help="With --model: the steps `fix --steps` would be given.")
@click.option("--guidance", type=click.FloatRange(min=1.0), help="With --model: the guidance `fix` would be given.")
@click.option("--device", help="With --model: the device `fix` would run on (on a CPU it takes at most 20 steps "
              "unless --steps is given)  [default: cuda, then mps, then cpu]")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def explain(prompt: str, template: str | None, attributes: tuple[str, ...], model: str | None,
            model_config: str | None, steps: int | None, guidance: float | None, device: str | None, as_json: bool,
            debug: bool) -> None:
    """Show the template and the attributes PROMPT names: kind, parser labels, removal, FASA or APG;
    with --model, the steps and guidance a cure would use."""
    with reported_errors(debug):
        from freecure_edit.explain import explain_prompt, settings_report

        report = explain_prompt(prompt, template=template, attributes=list(attributes))
        if model is not None:
            report["settings"] = settings_report(model, model_config, steps, guidance, device)
        click.echo(json.dumps(report, ensure_ascii=False) if as_json else text_report(report))
