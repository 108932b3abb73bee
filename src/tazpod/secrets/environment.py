"""The enclave's variables: dotenv secrets and mapped files, as `tazpod env` and `run` set them.

This runs on every prompt refresh, so its imports are few: secrets.yml's mappings come
from a table in the enclave's control directory (tazpod.secrets.mapping_table), written
only after secrets.yml was checked against the user's approval.
"""

from __future__ import annotations

import os

from tazpod.errors import UsageError
from tazpod.secrets import mapping_table
from tazpod.secrets.mapping_table import MappingRow
from tazpod.secrets.shell import EnvPlan, plan, usable_name
from tazpod.sysio import environ

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from tazpod.secrets.grants import Grant


def vault_root() -> str:
    """The open vault of the enclave this process runs in (a str: no pathlib on this path)."""
    root = environ.enclave_vault()
    if root is None:
        raise UsageError(
            "not inside an enclave", hint="open one with `tazpod unlock` (or use `tazpod run`)"
        )
    return root


def mappings(root: str) -> tuple[list[MappingRow], dict[str, str], str | None]:
    """secrets.yml's mappings and delivery modes as last approved, and a notice when a newer
    file was refused.

    The table (tazpod.secrets.mapping_table) answers while secrets.yml is the file it was
    checked from; a changed file is checked against the approval once, here, and only
    then used. (No pathlib, json or YAML on this hot path while nothing changed.)
    """
    project = environ.enclave_project()
    if not project:
        return [], {}, None
    secrets_yml = os.path.join(project, "secrets.yml")
    table = mapping_table.read(root)
    key = mapping_table.file_key(secrets_yml)
    if table is not None and key in (table.checked, table.refused):
        return table.rows, table.delivery, None
    return _check_again(root, project, table)


def _check_again(
    root: str, project: str, table: mapping_table.Table | None
) -> tuple[list[MappingRow], dict[str, str], str | None]:
    from pathlib import Path

    from tazpod.errors import TazpodError
    from tazpod.project import trust
    from tazpod.project.config import load_project_config
    from tazpod.project.locate import Project
    from tazpod.secrets.mappings import load_secrets_config

    where = Project(Path(project))
    kept = table.rows if table is not None else []
    kept_delivery = table.delivery if table is not None else {}
    key = mapping_table.file_key(str(where.secrets_path))  # before reading: see record()
    try:
        config = load_project_config(where.config_path).config
        secrets = None
        if where.secrets_path.is_file():
            secrets = load_secrets_config(where.secrets_path)[0]
        trust.check_in_enclave(where.root, config, secrets)
    except TazpodError as err:
        checked = table.checked if table is not None else ""
        mapping_table.write(root, checked, kept, refused=key, delivery=kept_delivery.items())
        first_line = err.message.split("\n", 1)[0]
        return kept, kept_delivery, f"{first_line}; `tazpod env` keeps the mappings last approved"
    mappings = secrets.mappings if secrets else ()
    delivery = secrets.delivery if secrets else ()
    problem = mapping_table.record(root, str(where.secrets_path), mappings, key, delivery)
    return mapping_table.rows_of(mappings), dict(delivery), problem


def _plain_file(name: str) -> bool:
    """What secrets.yml's own check allows a mapping's file to be."""
    try:
        mapping_table.check_file_name(name)
    except ValueError:
        return False
    return True


def environment_plan(
    mappings: list[MappingRow],
    root: str,
    delivery: Mapping[str, str] | None = None,
    only: Grant | None = None,
) -> EnvPlan:
    """What to export and unset; names that are no shell variable are in ``skipped``.

    Each dotenv secret goes as its delivery mode says (tazpod.secrets.delivery): a value in
    ``secrets``, a file (``value_files``, exported as NAME_FILE) or the command's FIFO
    (``fifo``). With a grant, only what it names.
    """
    from tazpod.secrets import delivery as modes
    from tazpod.secrets import dotenv

    delivery = delivery or {}

    files: dict[str, str] = {}
    missing: list[str] = []
    for _name, file, env in mappings:
        if only is not None and file not in only.files:
            continue
        # The table is the enclave's own, but checked again all the same: a variable
        # name that could start code, or a file outside the vault, is never exported.
        if env is None or not usable_name(env) or not _plain_file(file):
            continue
        target = os.path.join(root, file)
        if os.path.isfile(target):
            files[env] = target
        else:
            missing.append(env)
    from tazpod.secrets.value_files import sources_identity

    sources = sources_identity(root)  # before reading: see value_files
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
    if only is not None:
        values = {name: value for name, value in values.items() if name in only.values}
    as_values, as_files, as_fifo = {}, {}, {}
    for name, value in values.items():
        mode = modes.mode_of(name, delivery)
        if mode == modes.ENV:
            as_values[name] = value
        elif mode == modes.FIFO:
            as_fifo[name] = value
        else:
            as_files[name] = value
    result = plan(as_values, files, missing)
    result.problems = problems
    result.sources = sources
    taken = set(values) | set(files)
    for name in sorted(as_files):
        if not usable_name(name):
            result.skipped.append(name)
            continue
        variable = name + modes.FILE_SUFFIX
        if variable in taken:
            problems.append(f"{name}: its file's variable {variable} is another secret; skipped")
            continue
        result.value_files[name] = as_files[name]
        result.exports[variable] = modes.value_path(root, name)
        result.unset.append(name)
    for name in sorted(as_fifo):
        if not usable_name(name):
            result.skipped.append(name)
            continue
        result.fifo[name] = as_fifo[name]
        result.unset += [name, name + modes.FILE_SUFFIX]
    for name in as_values:
        if name + modes.FILE_SUFFIX not in taken:
            result.unset.append(name + modes.FILE_SUFFIX)
    result.unset = sorted(set(result.unset) - set(result.exports) - set(result.secrets))
    return result
