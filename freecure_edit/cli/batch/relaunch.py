"""The arguments that give each of the --num-processes processes the batch command it was given."""

from __future__ import annotations

from typing import Any

import click


def command_line(context: click.Context, leave_out: set[str]) -> list[str]:
    """The arguments that give this command the parameters it was given (defaults left out)."""
    options, arguments = [], []
    for parameter in context.command.params:
        if parameter.name in leave_out:
            continue
        value = context.params[parameter.name]
        if isinstance(parameter, click.Argument):
            arguments.append(str(value))
            continue
        source = context.get_parameter_source(parameter.name)
        if source is None or source == click.core.ParameterSource.DEFAULT:
            continue
        flag = max(parameter.opts, key=len)
        if parameter.is_flag and parameter.secondary_opts:
            options.append(flag if value else max(parameter.secondary_opts, key=len))
        elif parameter.is_flag:
            if value:
                options.append(flag)
        elif parameter.multiple:
            for each in value:
                options += [flag, *_texts(each, parameter.nargs)]
        else:
            options += [flag, *_texts(value, parameter.nargs)]
    return [*options, "--", *arguments]


def _texts(value: Any, nargs: int) -> list[str]:
    return [str(part) for part in value] if nargs > 1 else [str(value)]


