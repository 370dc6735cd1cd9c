"""The toy world's judges (freecure_edit.toyworld) as a metric backend: PC from the attribute judge,
IF from the identity embedder. They run on any CPU, so the whole evaluation can be tested end to end.

For a photo that is a toy drawing saved with its recipe (`toyworld.drawing_files.save_drawing`), the
world redraws the ideal edit of each prompt, and the metric adds the output's distance to it inside and
outside the region the edit should change (`toyworld.ideal`). For any other photo those values are None:
there is no ideal to measure against, which is not a distance of zero.
"""

from __future__ import annotations

from freecure_edit.errors import ModelNotFoundError
from freecure_edit.evaluation.metrics.base import Metric, Sample
from freecure_edit.toyworld.ideal import DISTANCE_NAMES


class ToyMetric(Metric):
    name = "toy"
    provides = ("pc", "if", *DISTANCE_NAMES)

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
        self._drawings: dict = {}  # (file, size) -> the drawing or the reason there is none

    def score(self, sample: Sample) -> dict[str, float | None]:
        from freecure_edit.toyworld.ideal import distance_to_ideal, ideal_edit

        values = {
            "pc": float(self.judges.prompt_consistency(sample.output, sample.prompt)),
            "if": float(self.judges.identity_similarity(sample.photo, sample.output)),
        }
        drawing = self._drawing(sample)
        if drawing is None:
            return {**values, **dict.fromkeys(DISTANCE_NAMES)}
        return {**values, **distance_to_ideal(sample.output, drawing, ideal_edit(drawing, sample.prompt))}

    def ideal(self, sample: Sample):
        from freecure_edit.toyworld.ideal import ideal_edit

        drawing = self._drawing(sample)
        return None if drawing is None else ideal_edit(drawing, sample.prompt).image

    def _drawing(self, sample: Sample):
        """The photo's drawing at the working size (the world redraws it there), or None; a file that
        claims to be a drawing and is not adds a warning."""
        if sample.source is None or sample.photo.width != sample.photo.height:
            return None
        key = (str(sample.source), sample.photo.width)
        if key not in self._drawings:
            from freecure_edit.toyworld.drawing_files import drawing_from_file

            try:
                self._drawings[key] = drawing_from_file(sample.source, sample.photo.width)
            except (OSError, ValueError) as error:
                self._drawings[key] = f"no ideal edit: {error}"
        found = self._drawings[key]
        if isinstance(found, str):
            sample.warnings.append(found)
            return None
        return found

    def describe(self) -> dict:
        return {"name": self.name, "judges": None if self.folder is None else str(self.folder)}
