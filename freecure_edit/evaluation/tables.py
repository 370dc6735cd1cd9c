"""The paper's tables from the result lines.

Table 1: per base model and method, PC, IF and hMean with their deltas against the input, beside face
diversity, PSNR outside the mask, the distance to the ideal edit (toy drawings only) and the cost.
Table 2: the same by the number of attributes the prompt names (1, 2, 3). hMean = 2·PC·IF / (PC + IF)
of the mean PC and mean IF (defined when both are positive), as the paper's PC×IF column combines
averages.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean
from typing import Any

from freecure_edit.toyworld.ideal import DISTANCE_NAMES as IDEAL_DISTANCES

BASELINE = "input"
# The values a result line holds, each from the first metric that gives it.
SCORED = ("pc", "if", "lpips_to_input", "psnr_outside_mask", *IDEAL_DISTANCES)


def harmonic_mean(pc: float | None, identity: float | None) -> float | None:
    if pc is None or identity is None or pc <= 0 or identity <= 0:
        return None
    return 2 * pc * identity / (pc + identity)


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return fmean(values) if values else None


def _face_diversity(lines) -> float | None:
    """The mean LPIPS over all pairs of seeds: each line holds its mean over the earlier seeds."""
    pairs = sum(line.get("face_diversity_pairs") or 0 for line in lines if line.get("face_diversity") is not None)
    if not pairs:
        return None
    return sum(line["face_diversity"] * line["face_diversity_pairs"] for line in lines
               if line.get("face_diversity") is not None) / pairs


def aggregate(lines: list[dict[str, Any]]) -> dict[str, Any]:
    pc = _mean(line.get("pc") for line in lines)
    identity = _mean(line.get("if") for line in lines)
    return {
        "count": len(lines),
        "pc": pc,
        "if": identity,
        "hmean": harmonic_mean(pc, identity),
        "face_diversity": _face_diversity(lines),
        "lpips_to_input": _mean(line.get("lpips_to_input") for line in lines),
        "psnr_outside_mask": _mean(line.get("psnr_outside_mask") for line in lines),
        **{name: _mean(line.get(name) for line in lines) for name in IDEAL_DISTANCES},
        "evaluations": _mean(line.get("evaluations") for line in lines),
        "seconds": _mean(line.get("seconds") for line in lines),
        "peak_memory_bytes": max((line.get("peak_memory_bytes") or 0 for line in lines), default=0) or None,
    }


def _with_deltas(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    baseline = rows.get(BASELINE)
    for row in rows.values():
        for name in ("pc", "if", "hmean"):
            base = None if baseline is None else baseline.get(name)
            row[f"delta_{name}"] = None if base is None or row.get(name) is None else row[name] - base
    return rows


def table1(lines: list[dict[str, Any]], methods: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """{model: {method: row}} in the run's method order."""
    grouped: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for line in lines:
        grouped[line["model"]][line["method"]].append(line)
    return {
        model: _with_deltas({m: aggregate(by_method[m]) for m in methods if m in by_method})
        for model, by_method in grouped.items()
    }


def table2(lines: list[dict[str, Any]], methods: list[str]) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """{model: {attribute count (as text): {method: row}}}, counts in increasing order."""
    grouped: dict[str, dict[int, dict[str, list]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for line in lines:
        grouped[line["model"]][int(line.get("attributes") or 0)][line["method"]].append(line)
    return {
        model: {
            str(count): _with_deltas({m: aggregate(by_count[count][m]) for m in methods if m in by_count[count]})
            for count in sorted(by_count)
        }
        for model, by_count in grouped.items()
    }
