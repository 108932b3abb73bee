"""`tazpod env`: the enclave's variables for `eval "$(tazpod env)"`, never to a terminal."""

from __future__ import annotations

import sys

from tazpod.errors import UsageError
from tazpod.secrets.environment import environment_plan, mappings, vault_root
from tazpod.secrets.shell import render, skipped_notice

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from tazpod.cli.ui import UI
    from tazpod.secrets.shell import EnvPlan


def warn_skipped(plan: EnvPlan, ui: UI) -> None:
    """Once: the lines that could not be read, and the secrets that are no variables."""
    for problem in plan.problems:
        ui.warn(problem)
    notice = skipped_notice(plan.skipped)
    if notice:
        ui.warn(notice)


def run(args: argparse.Namespace, ui: UI) -> int:
    root = vault_root()
    if sys.stdout.isatty():
        raise UsageError(
            "tazpod env prints secret values for the shell to evaluate, so it will not print"
            " them to a terminal",
            hint='run: eval "$(tazpod env)"',
        )
    rows, delivery, notice = mappings(root)
    if notice:
        ui.warn(notice)
    plan = environment_plan(rows, root, delivery)
    import os

    from tazpod.secrets.delivery import GRANT_VARIABLE

    if GRANT_VARIABLE not in os.environ:  # a grant's view holds its values, not their source
        from tazpod.secrets.value_files import materialize

        plan.problems += materialize(root, plan.value_files, plan.sources)
    warn_skipped(plan, ui)
    ui.out.write(render(plan))
    ui.out.flush()
    return 0
