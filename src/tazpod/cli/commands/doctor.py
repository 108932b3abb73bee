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

    from tazpod.cli.context import unapproved_context
    from tazpod.doctor.model import counts, failed, report_json
    from tazpod.doctor.service import diagnose
    from tazpod.errors import ExitCode, UsageError
    from tazpod.sysio.environ import in_enclave

    if in_enclave():
        raise UsageError(
            "`tazpod doctor` checks the enclave from outside it", hint="run it on the host"
        )
    context = unapproved_context(ui)
    found = diagnose(context)
    code = int(ExitCode.FAILURE) if failed(found.checks) else 0
    if args.json:
        document = report_json(
            str(context.project.root), context.config.engine, found.container, found.checks
        )
        ui.out.write(json.dumps(document, indent=2) + "\n")
        ui.out.flush()
        return code
    ui.say(f"project:   {context.project.root}")
    ui.say(f"container: {found.container or '(none)'} on {context.config.engine}")
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
