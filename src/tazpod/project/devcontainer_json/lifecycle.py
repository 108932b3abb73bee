"""devcontainer.json's lifecycle commands, as config.yaml's `hooks:` keep them.

The spec's three forms stay as they are: a string (run by `/bin/sh -c`), an array (the
program and its arguments, no shell), an object (named commands, each a string or an
array, run at the same time). An empty one is no command, as in the devcontainers CLI.
"""

from __future__ import annotations

from typing import Any

from tazpod.project.devcontainer_json.variables import Unresolved, Variables

# devcontainer.json's name -> config.yaml's, in the order they run.
HOOKS = {
    "onCreateCommand": "on_create",
    "updateContentCommand": "update_content",
    "postCreateCommand": "post_create",
    "postStartCommand": "post_start",
    "postAttachCommand": "post_attach",
}
Command = str | list[str]


def _command(value: Any, variables: Variables, what: str) -> Command:
    if isinstance(value, str):
        return variables.resolve(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [variables.resolve(item) for item in value]
    raise ValueError(
        f"{what} must be a string (run by /bin/sh -c) or an array of strings (the program"
        " and its arguments)"
    )


def hook(value: Any, variables: Variables, warnings: list[str], where: str) -> Any:
    """The hook as config.yaml keeps it, or None when it has no command.

    ValueError for a malformed one; a command that names the host's or the container's
    environment is left out, with a warning.
    """
    if value is None or value in ("", [], {}):
        return None
    if not isinstance(value, dict):
        try:
            return _command(value, variables, "the command")
        except Unresolved as err:
            warnings.append(f"{where}: uses {err.variable}: {_LEFT_OUT}")
            return None
    named: dict[str, Command] = {}
    for name, command in value.items():
        if command in ("", []):
            continue
        try:
            named[name] = _command(command, variables, f"command {name!r}")
        except Unresolved as err:
            warnings.append(f"{where}.{name}: uses {err.variable}: {_LEFT_OUT}")
    return named or None


_LEFT_OUT = (
    "left out (tazpod copies nothing from the host's environment into config.yaml, and the"
    " container's is not known before it runs); put the value in the Dockerfile or the"
    " command itself"
)
