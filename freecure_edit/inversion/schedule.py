"""Kept for imports written before the schedules moved to `freecure_edit.schedules`."""

from freecure_edit.schedules.ddim import DDIMSchedule, ddim_schedule, move_coefficients

__all__ = ["DDIMSchedule", "ddim_schedule", "move_coefficients"]
