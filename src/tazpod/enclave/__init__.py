"""The enclave: a private mount namespace holding the decrypted vault, and the
user-namespaced, unprivileged processes that may see it."""
