"""The enclave's variables: dotenv secrets and mapped files, as `tazpod env` and `run` set them.

This runs on every prompt refresh, so its imports are few: secrets.yml's mappings come
from a cache in the enclave's control directory (refreshed whenever secrets.yml changes),
and only a stale cache costs a YAML parse.
"""

from __future__ import annotations

import contextlib
import os

from tazpod.errors import UsageError
from tazpod.secrets.shell import EnvPlan, plan
from tazpod.sysio import environ

CONTROL_DIR = ".tazpod"  # tazpod.enclave.control.CONTROL_DIR, without importing it
CACHE = "secrets-mappings.tsv"
MappingRow = tuple[str, str, str | None]  # (secret name, file, env variable)


def vault_root() -> str:
    """The open vault of the enclave this process runs in (a str: no pathlib on this path)."""
    root = environ.enclave_vault()
    if root is None:
        raise UsageError(
            "not inside an enclave", hint="open one with `tazpod unlock` (or use `tazpod run`)"
        )
    return root


def mappings(root: str) -> list[MappingRow]:
    """secrets.yml's mappings, from a tab-separated cache keyed by the file's mtime and size.

    (No pathlib, json or YAML on the hot path: each costs more than the rest of the command.)
    """
    project = environ.enclave_project()
    secrets_yml = os.path.join(project, "secrets.yml") if project else ""
    if not secrets_yml or not os.path.isfile(secrets_yml):
        return []
    stat = os.stat(secrets_yml)
    key = f"{secrets_yml}\t{stat.st_mtime_ns}\t{stat.st_size}"
    control = os.path.join(root, CONTROL_DIR)
    cache = os.path.join(control, CACHE)
    try:
        with open(cache, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        if lines[0] == key:
            rows = [line.split("\t") for line in lines[1:] if line]
            return [(r[0], r[1], r[2] or None) for r in rows]
    except (OSError, IndexError):
        pass
    from pathlib import Path

    from tazpod.secrets.mappings import read_secrets_config

    config, _warnings = read_secrets_config(Path(secrets_yml))
    mappings = [(m.name, m.file, m.env) for m in config.mappings]
    if os.path.isdir(control):
        from tazpod.sysio.files import write_atomic

        table = "".join(f"{name}\t{file}\t{env or ''}\n" for name, file, env in mappings)
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            write_atomic(Path(cache), f"{key}\n{table}".encode())
    return mappings


def environment_plan(mappings: list[MappingRow], root: str) -> EnvPlan:
    """What to export and unset; names that are no shell variable are in ``skipped``."""
    from tazpod.secrets import dotenv

    files: dict[str, str] = {}
    missing: list[str] = []
    for _name, file, env in mappings:
        if env is None:
            continue
        target = os.path.join(root, file)
        if os.path.isfile(target):
            files[env] = target
        else:
            missing.append(env)
    values = {}
    problems = []
    for name in (".env-infisical", ".env-local"):  # set by hand (.env-local) wins
        try:
            parsed = dotenv.read_file(os.path.join(root, name))
        except OSError as err:  # a vault always opens: report, and go on without that file
            problems.append(f"{os.path.join(root, name)}: cannot be read ({err.strerror})")
            continue
        values.update(parsed.values)
        problems += [f"{problem}; skipped" for problem in parsed.problems]
    result = plan(values, files, missing)
    result.problems = problems
    return result
