"""The one error family that reaches the user.

Every failure a user can act on is a ``TazpodError`` (or a subclass) with an
exit code and an optional hint. The CLI catches it once, prints it age-style
(``tazpod: message`` then ``hint: ...``) and exits with its code. Messages
never carry secret values: only names, paths and counts.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class ExitCode:
    """The exit codes (plain ints: importing enum costs `tazpod env`'s prompt path ~1 ms)."""

    OK: Final = 0
    FAILURE: Final = 1
    USAGE: Final = 2
    CONFIG: Final = 3
    PRIVILEGE: Final = 4
    VAULT: Final = 5
    WRONG_PASSPHRASE: Final = 6
    VAULT_BUSY: Final = 7
    SECRETS: Final = 8
    ENGINE: Final = 9
    INTERRUPTED: Final = 130
    INTERNAL: Final = 70


class TazpodError(Exception):
    """A failure the user can understand and, with the hint, fix."""

    exit_code: int = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(TazpodError):
    exit_code = ExitCode.USAGE


class ConfigError(TazpodError):
    exit_code = ExitCode.CONFIG


class PrivilegeError(TazpodError):
    """Not root, a missing capability, or a missing system tool."""

    exit_code = ExitCode.PRIVILEGE


class VaultError(TazpodError):
    exit_code = ExitCode.VAULT


class WrongPassphraseError(VaultError):
    exit_code = ExitCode.WRONG_PASSPHRASE


class VaultBusyError(VaultError):
    exit_code = ExitCode.VAULT_BUSY


class SecretsError(TazpodError):
    exit_code = ExitCode.SECRETS


class EngineError(TazpodError):
    exit_code = ExitCode.ENGINE


class ArtifactError(EngineError):
    """A vertical's tool could not be fetched, or is not the file it must be."""
