"""The input itself (the baseline every delta is taken against)."""

from __future__ import annotations

from freecure_edit.evaluation.methods.base import Method, MethodOutput


class InputMethod(Method):
    kind = "input"

    def run(self, photo, prompt, seed):
        return MethodOutput(photo.copy())
