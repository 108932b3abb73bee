"""How a dotenv secret (pulled or set) reaches a process: its delivery mode.

    file   the default: the value is in a file of the enclave (0600, never saved apart from
           the vault), and the variable NAME_FILE holds the file's path; no environment
           holds the value
    env    the value in the variable NAME (TazPod's way; asked for by name in secrets.yml)
    fifo   only through the command's one-shot FIFO, whose path is in TAZPOD_ENV_FIFO: a
           dotenv text that can be read once (for tools that read a .env when they start)

secrets.yml chooses per name (``delivery: {DATABASE_URL: env, "*": file}``; ``*`` is the
default for names not listed). secrets.yml's file mappings are files already: their
variable holds the path. Plain data and ``os`` only: `tazpod env` runs this on a prompt.
"""

from __future__ import annotations

import os

FILE = "file"
ENV = "env"
FIFO = "fifo"
MODES = (FILE, ENV, FIFO)
DEFAULT_KEY = "*"
FILE_SUFFIX = "_FILE"
VALUES_DIR = "values"  # in the vault's control directory: <vault>/.tazpod/values/NAME
FIFO_VARIABLE = "TAZPOD_ENV_FIFO"
GRANT_VARIABLE = "TAZPOD_GRANT"  # in a grant's view: what it was given (tazpod.enclave.view)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def check_mode(value: object) -> str:
    text = str(value)
    if text not in MODES:
        raise ValueError(f"{text!r} is no delivery mode; write one of: {', '.join(MODES)}")
    return text


def mode_of(name: str, modes: Mapping[str, str]) -> str:
    return modes.get(name) or modes.get(DEFAULT_KEY) or FILE


def values_dir(root: str) -> str:
    return os.path.join(root, ".tazpod", VALUES_DIR)


def value_path(root: str, name: str) -> str:
    return os.path.join(values_dir(root), name)
