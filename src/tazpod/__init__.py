"""tazpod: zero-trust development environments."""

__version__ = "0.2.0"
