"""Noise schedules as linear moves z' = a * z + b * prediction, shared by backbones and front ends.

DDIM (ddim.py) moves by the noise prediction eps; flow matching (flow.py, FLUX's Euler step) moves by
the velocity v. Both expose the same methods (`step_coefficients`, `step`, `inverse_step`,
`to_epsilon`, which returns whatever quantity the move is linear in), so the exact front end's
"trajectory plus deviation" step works unchanged on either.

May import the libraries only.
"""

from freecure_edit.schedules.ddim import DDIMSchedule, ddim_schedule, move_coefficients
from freecure_edit.schedules.flow import FlowSchedule, flow_schedule

__all__ = ["DDIMSchedule", "FlowSchedule", "ddim_schedule", "flow_schedule", "move_coefficients"]
