"""The toy world's judges (freecure_edit.toyworld) as a metric backend: PC from the attribute judge,
IF from the identity embedder. They run on any CPU, so the whole evaluation can be tested end to end.
"""

from __future__ import annotations

from freecure_edit.errors import ModelNotFoundError
from freecure_edit.evaluation.metrics.base import Metric, Sample


class ToyMetric(Metric):
    name = "toy"
    provides = ("pc", "if")

    def __init__(self, folder: str | None = None):
        try:
            from freecure_edit.toyworld.judges import load_judges
        except ImportError:
            raise ModelNotFoundError(
                "the toy world (freecure_edit.toyworld) is not installed in this version, so metric 'toy' cannot run"
            ) from None
        try:
            self.judges = load_judges(folder)
        except FileNotFoundError as error:
            raise ModelNotFoundError(f"the toy world's judges are not in {folder or 'the package'} ({error})") from None
        except ValueError as error:
            raise ModelNotFoundError(f"the toy world's judges in {folder or 'the package'} do not fit: {error}") from None
        self.folder = folder

    def score(self, sample: Sample) -> dict[str, float | None]:
        return {
            "pc": float(self.judges.prompt_consistency(sample.output, sample.prompt)),
            "if": float(self.judges.identity_similarity(sample.photo, sample.output)),
        }

    def describe(self) -> dict:
        return {"name": self.name, "judges": None if self.folder is None else str(self.folder)}
