"""The project: .tazpod/config.yaml, its schema, cache and edits; init, names."""
