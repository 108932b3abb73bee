"""Opening, proving and changing a vault's passphrase: prompts meet the Vault interface.

The only caller of the retry loop (tazpod.vault.prompts.with_passphrase):
the enclave service, the migration and `tazpod vault passwd` come here, so
a wrong passphrase is handled the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

from tazpod.errors import VaultError
from tazpod.vault.base import OpenedVault, Proof, Report, Vault
from tazpod.vault.prompts import PassphraseSource, new_passphrase, with_passphrase

OnRetry = Callable[[int], None]  # told how many attempts are left after a wrong one


def open_existing(
    vault: Vault, source: PassphraseSource, report: Report, on_retry: OnRetry
) -> tuple[OpenedVault, str]:
    """Open a vault that exists; opening is the passphrase's proof. Returns both."""
    with vault.opener(report) as attempt:

        def opened(passphrase: str) -> tuple[OpenedVault, str]:
            return attempt(passphrase), passphrase

        return with_passphrase(source, opened, on_retry)


def open_or_create(
    vault: Vault, source: PassphraseSource, report: Report, on_retry: OnRetry
) -> OpenedVault:
    """What unlocking does: open the vault, or make a new one at the first unlock."""
    vault.tidy(report)
    if vault.exists():
        return open_existing(vault, source, report, on_retry)[0]
    opened = vault.create(new_passphrase(source), report)
    report(f"created a new vault in {vault.location}")
    return opened


def prove(vault: Vault, source: PassphraseSource, on_retry: OnRetry) -> str:
    """The passphrase, once the vault accepted it (nothing is opened)."""
    return _proven(vault, source, on_retry)[0]


def _proven(vault: Vault, source: PassphraseSource, on_retry: OnRetry) -> tuple[str, Proof]:
    def attempt(passphrase: str) -> tuple[str, Proof]:
        return passphrase, vault.verify(passphrase)

    return with_passphrase(source, attempt, on_retry)


def change_passphrase(
    vault: Vault,
    old_source: PassphraseSource,
    new_source: PassphraseSource,
    report: Report,
    on_retry: OnRetry,
) -> None:
    """The old passphrase (retried), then the new one (asked twice), then the change."""
    if not vault.exists():
        raise VaultError(f"no vault in {vault.directory}", hint="`tazpod unlock` creates one")
    old, proof = _proven(vault, old_source, on_retry)
    new = new_passphrase(new_source, what="vault (new passphrase)")
    vault.change_passphrase(old, new, report, proof)
