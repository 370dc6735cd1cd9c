"""report.html: one file that opens offline. The plots are embedded (base64 PNG); the result images
sit beside it in images/ and are linked relatively, so the folder can be moved or zipped whole.

Per model, photo and prompt a row of the first seed's images: input | FD | masks over the photo |
the cures | each peer; then the tables and plots. For toy drawings, whose ideal edit the toy metric
knows, also one PNG grid per model: input | FD | masks | cure | ideal.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from freecure_edit.evaluation import plots
from freecure_edit.evaluation.report_grid import ideal_grid_section

# The distance to the ideal edit (the toy metric, on toy drawings): result names -> column heads.
IDEAL_COLUMNS = {"ideal_mae_in": "MAE to ideal, inside", "ideal_mae_out": "MAE to ideal, outside",
                 "ideal_ssim_in": "SSIM to ideal, inside", "ideal_ssim_out": "SSIM to ideal, outside"}

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.55em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.row { display: flex; flex-wrap: wrap; gap: 0.6em; margin: 0.4em 0 1.2em; }
figure { margin: 0; width: 170px; font-size: 0.75em; }
figure img { width: 170px; height: auto; display: block; border: 1px solid #ccc; }
.plot { max-width: 100%; }
.pos { color: #1a7f37; } .neg { color: #b42318; }
"""


def _number(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _delta(value) -> str:
    if value is None:
        return "–"
    kind = "pos" if value > 0 else "neg" if value < 0 else ""
    return f'<span class="{kind}">{value:+.3f}</span>'


def _table(rows: dict[str, dict[str, Any]]) -> str:
    # The distance to the ideal edit exists for toy drawings only: its columns appear when a row has it.
    ideal = any(row.get(name) is not None for row in rows.values() for name in IDEAL_COLUMNS)
    header = ("method", "n", "PC", "IF", "hMean", "ΔPC", "ΔIF", "ΔhMean", "Face div.", "LPIPS to input",
              "PSNR outside mask", *(IDEAL_COLUMNS.values() if ideal else ()), "evaluations", "seconds")
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]
    for method, row in rows.items():
        cells = [html.escape(method), str(row["count"]), _number(row["pc"]), _number(row["if"]), _number(row["hmean"]),
                 _delta(row["delta_pc"]), _delta(row["delta_if"]), _delta(row["delta_hmean"]),
                 _number(row["face_diversity"]), _number(row["lpips_to_input"]), _number(row["psnr_outside_mask"], 1),
                 *([_number(row.get(name), 1 if "mae" in name else 3) for name in IDEAL_COLUMNS] if ideal else []),
                 _number(row["evaluations"], 1), _number(row["seconds"], 2)]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "".join(out) + "</table>"


def _figure(src: str, caption: str) -> str:
    return (f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}" loading="eager">'
            f"<figcaption>{caption}</figcaption></figure>")


def _embedded(png: bytes, alt: str) -> str:
    return f'<img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _gallery(folder: Path, lines: list[dict[str, Any]], settings, photos, prompts) -> str:
    by_key = {(l["model"], l["photo"], l["prompt"], l["method"], l["seed"]): l for l in lines}
    seed = settings.seeds[0]
    order = sorted(settings.methods, key=lambda m: ("input", "fd", "cure", "ledits", "img2img").index(m.split(":")[0]))
    out = []
    for model_index, model in enumerate(settings.models):
        for photo in photos:
            for prompt in prompts:
                base = f"images/m{model_index}/{photo.slug}/{prompt.id}"
                figures = []
                masks = folder / base / "masks.png"
                for method in order:
                    line = by_key.get((model, photo.name, prompt.text, method, seed))
                    if line is None:
                        continue
                    if masks.exists() and method.split(":")[0] in ("cure", "ledits", "img2img") and not any(
                            "masks.png" in figure for figure in figures):
                        figures.append(_figure(f"{base}/masks.png", "masks over the photo"))
                    caption = (f"<b>{html.escape(method)}</b><br>PC {_number(line.get('pc'))} · "
                               f"IF {_number(line.get('if'))}")
                    figures.append(_figure(line["image"], caption))
                if figures:
                    title = f"{html.escape(photo.name)} — “{html.escape(prompt.text)}” ({prompt.attribute_count} attr.)"
                    if len(settings.models) > 1:
                        title = f"{html.escape(model)}: {title}"
                    out.append(f"<h3>{title}</h3><div class=\"row\">{''.join(figures)}</div>")
    return "".join(out)


def _sampling(summary: dict) -> str:
    """Steps and guidance per model: the run's, or each model's own where the run gave none."""
    per_model = summary["settings"].get("models") or {}
    parts = [f"{html.escape(model)} ({html.escape(values['family'])}): {values['steps']} steps, guidance "
             f"{values['guidance']:g}" for model, values in per_model.items()]
    return "; ".join(parts) or f"{summary['settings']['steps']} steps, guidance {summary['settings']['guidance']}"


def write_report(path: Path, summary: dict, lines: list[dict[str, Any]], settings, photos, prompts) -> None:
    from freecure_edit.imageio.atomic import write_atomically

    methods = list(summary["methods"])
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>freecure-edit eval</title>"
             f"<style>{_STYLE}</style></head><body><h1>freecure-edit eval</h1>",
             f"<p>{summary['results']} of {summary['expected']} results; {summary['photos']} photos, "
             f"{len(summary['prompts'])} prompts, seeds {', '.join(map(str, summary['seeds']))}; "
             f"{_sampling(summary)}. Metrics: "
             f"{html.escape(', '.join(m['name'] for m in summary['metrics']))}. Deltas are against the input.</p>"]
    for entry in summary.get("skipped", []):
        parts.append(f"<p>{html.escape(entry['model'])}: <b>{html.escape(entry['method'])}</b> skipped: "
                     f"{html.escape(entry['reason'])}.</p>")
    for model, rows in summary["table1"].items():
        parts.append(f"<h2>Table 1: {html.escape(model)}</h2>{_table(rows)}")
        parts.append(f"<h2>Table 2: by number of attributes, {html.escape(model)}</h2>")
        for count, by_method in summary["table2"].get(model, {}).items():
            parts.append(f"<h3>{count} attribute{'s' if count != '1' else ''}</h3>{_table(by_method)}")
        model_lines = [l for l in lines if l["model"] == model]
        parts.append("<h2>Plots</h2>")
        parts.append(_embedded(plots.pc_against_if(model_lines, methods), "PC against IF per method"))
        parts.append(_embedded(plots.deltas_by_attribute_count(summary["table2"].get(model, {}), methods),
                               "deltas by attribute count"))
    for model_index, model in enumerate(settings.models):
        parts.append(ideal_grid_section(path.parent, lines, settings, photos, prompts, model_index, model))
    parts.append("<h2>Images (first seed)</h2>")
    parts.append(_gallery(path.parent, lines, settings, photos, prompts))
    parts.append("</body></html>\n")
    data = "".join(parts).encode("utf-8")
    write_atomically(path, lambda handle: handle.write(data), overwrite=True)
