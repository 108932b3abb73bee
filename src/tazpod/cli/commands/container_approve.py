"""`tazpod container-approve` (internal): root in the container keeps the approval the
host's `tazpod trust` just made, for the opener (tazpod.enclave.opener)."""

from __future__ import annotations

from typing import Any

from tazpod.cli.ui import UI


def run(_args: Any, _ui: UI) -> int:
    import os

    from tazpod.cli import context
    from tazpod.enclave import opener
    from tazpod.errors import PrivilegeError, UsageError

    if os.geteuid() != 0:
        raise PrivilegeError("container-approve is root's, sent by the host's `tazpod trust`")
    digest = context.approved_digest
    if digest is None or len(digest) != 64 or not digest.isalnum():
        raise UsageError("container-approve needs the approved settings' digest")
    opener.keep_approval(digest)
    return 0
