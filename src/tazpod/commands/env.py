"""`tazpod env`: the enclave's variables for `eval "$(tazpod env)"`, never to a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tazpod.commands._context import Context, load_context
from tazpod.errors import UsageError
from tazpod.shellenv import EnvPlan, plan, render
from tazpod.ui import UI


def environment_plan(context: Context, root: Path, ui: UI) -> EnvPlan:
    from tazpod import secretstore

    files: dict[str, str] = {}
    missing: list[str] = []
    for mapping in context.secrets.mappings if context.secrets else ():
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


def run(args: argparse.Namespace, ui: UI) -> int:
    from tazpod import secretstore

    root = secretstore.vault_root()
    if sys.stdout.isatty():
        raise UsageError(
            "tazpod env prints secret values for the shell to evaluate, so it will not print"
            " them to a terminal",
            hint='run: eval "$(tazpod env)"',
        )
    ui.out.write(render(environment_plan(load_context(ui), root, ui)))
    ui.out.flush()
    return 0
