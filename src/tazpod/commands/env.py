"""`tazpod env`: the enclave's variables for `eval "$(tazpod env)"`, never to a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tazpod.errors import UsageError
from tazpod.secretsfile import SecretMapping
from tazpod.shellenv import EnvPlan, plan, render
from tazpod.ui import UI


def environment_plan(mappings: tuple[SecretMapping, ...], root: Path, ui: UI) -> EnvPlan:
    from tazpod import secretstore

    files: dict[str, str] = {}
    missing: list[str] = []
    for mapping in mappings:
        if mapping.env is None:
            continue
        target = root / mapping.file
        if target.is_file():
            files[mapping.env] = str(target)
        else:
            missing.append(mapping.env)
    result = plan(secretstore.all_values(root), files, missing)
    for name in result.skipped:
        ui.warn(f"{name} is not usable as a shell variable name; skipped")
    return result


def _mappings(root: Path) -> tuple[SecretMapping, ...]:
    """secrets.yml's mappings for the enclave's project (cached: this runs per prompt)."""
    from tazpod.commands._context import project_start
    from tazpod.enclave.control import CONTROL_DIR
    from tazpod.project import find_project
    from tazpod.secretsfile import read_secrets_config_cached

    project = find_project(project_start())
    if project is None or not project.secrets_path.is_file():
        return ()
    control = root / CONTROL_DIR
    cache = control / "secrets-cache.json" if control.is_dir() else None
    return read_secrets_config_cached(project.secrets_path, cache).mappings


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod import secretstore

    root = secretstore.vault_root()
    if sys.stdout.isatty():
        raise UsageError(
            "tazpod env prints secret values for the shell to evaluate, so it will not print"
            " them to a terminal",
            hint='run: eval "$(tazpod env)"',
        )
    ui.out.write(render(environment_plan(_mappings(root), root, ui)))
    ui.out.flush()
    return 0
