"""Reaching the dev container from ssh tools: keys, ssh config entries, the container's sshd."""
