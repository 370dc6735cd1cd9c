"""The report's plots, drawn with matplotlib (Agg, no display) and returned as PNG bytes."""

from __future__ import annotations

import io
from typing import Any


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(plt, figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def pc_against_if(lines: list[dict[str, Any]], methods: list[str]) -> bytes:
    """Every result as a faint point, each method's mean as a large one: PC across, IF up."""
    plt = _figure()
    figure, axes = plt.subplots(figsize=(6, 4.5))
    colours = plt.get_cmap("tab10")
    for index, method in enumerate(methods):
        points = [(l["pc"], l["if"]) for l in lines if l["method"] == method and l.get("pc") is not None
                  and l.get("if") is not None]
        if not points:
            continue
        xs, ys = zip(*points)
        colour = colours(index % 10)
        axes.scatter(xs, ys, s=12, alpha=0.3, color=colour)
        axes.scatter([sum(xs) / len(xs)], [sum(ys) / len(ys)], s=90, color=colour, edgecolor="black", label=method)
    axes.set_xlabel("PC (CLIP-T or the toy judge)")
    axes.set_ylabel("IF (identity cosine)")
    axes.set_title("Prompt consistency against identity fidelity")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, "no result has both PC and IF", ha="center", va="center", transform=axes.transAxes)
    return _png(plt, figure)


def deltas_by_attribute_count(table2: dict[str, dict[str, dict[str, Any]]], methods: list[str]) -> bytes:
    """Per attribute count, the change of PC, IF and hMean against the input, one bar per method."""
    plt = _figure()
    counts = sorted(table2, key=int)
    compared = [m for m in methods if m != "input"]
    figure, all_axes = plt.subplots(1, 3, figsize=(11, 3.6), sharex=True)
    colours = plt.get_cmap("tab10")
    width = 0.8 / max(1, len(compared))
    for axes, (name, title) in zip(all_axes, (("delta_pc", "ΔPC"), ("delta_if", "ΔIF"), ("delta_hmean", "ΔhMean"))):
        for index, method in enumerate(compared):
            values = [(table2[c].get(method) or {}).get(name) for c in counts]
            positions = [i + (index - (len(compared) - 1) / 2) * width for i in range(len(counts))]
            axes.bar(positions, [0.0 if v is None else v for v in values], width=width,
                     color=colours((methods.index(method)) % 10), label=method)
        axes.axhline(0.0, color="black", linewidth=0.8)
        axes.set_xticks(range(len(counts)), [f"{c} attr." for c in counts])
        axes.set_title(f"{title} against the input")
        axes.grid(axis="y", alpha=0.3)
    if compared:
        all_axes[0].legend(fontsize=7)
    return _png(plt, figure)
