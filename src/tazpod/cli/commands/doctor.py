"""`tazpod doctor`: check what the enclave's isolation rests on, and say how to fix it.

From outside the enclave (on the host, as the user): the container's privileges, seccomp
and user namespace as its engine describes them, the settings' approval, the vault's
file modes and owners, swap and the kernel's features; and, when an enclave is open in
the container, live probes against it. Exit code 1 when any check fails.
"""

from __future__ import annotations

import argparse

from tazpod.cli.ui import UI

DEFAULTS = {"json": False}
_LABEL = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skipped": "skip"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


def run(args: argparse.Namespace, ui: UI) -> int:
    import json
    from pathlib import Path

    from tazpod.cli.context import Context, read_secrets
    from tazpod.doctor.model import counts, failed, report_json
    from tazpod.doctor.service import diagnose
    from tazpod.errors import ConfigError, ExitCode, UsageError
    from tazpod.project.config import load_project_config
    from tazpod.project.locate import find_project
    from tazpod.sysio.environ import in_enclave

    if in_enclave():
        raise UsageError(
            "`tazpod doctor` checks the enclave from outside it", hint="run it on the host"
        )
    project = find_project(Path.cwd())
    if project is None:
        raise ConfigError(
            f"no tazpod project in {Path.cwd()} or any parent directory",
            hint="run `tazpod init` to create one",
        )
    loaded = load_project_config(project.config_path)
    for warning in loaded.warnings:
        ui.warn(warning)
    context = Context(project, loaded.config, read_secrets(project, ui))
    found = diagnose(context)
    code = int(ExitCode.FAILURE) if failed(found.checks) else 0
    if args.json:
        document = report_json(
            str(project.root), loaded.config.engine, found.container, found.checks
        )
        ui.out.write(json.dumps(document, indent=2) + "\n")
        ui.out.flush()
        return code
    ui.say(f"project:   {project.root}")
    ui.say(f"container: {found.container or '(none)'} on {loaded.config.engine}")
    for check in found.checks:
        ui.say(f"{_LABEL[check.state]:<5} {check.name}: {check.explanation}")
        if check.fix and check.state in ("warn", "fail"):
            ui.say(f"      fix: {check.fix}")
    tally = counts(found.checks)
    ui.say(
        f"{tally['ok']} ok, {tally['warn']} warning(s), {tally['fail']} failed,"
        f" {tally['skipped']} skipped"
    )
    return code
