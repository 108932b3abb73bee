"""Encrypted storage backends behind one interface (see ``tazpod.vault.base``)."""
