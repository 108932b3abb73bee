"""The one thin layer over the operating system.

Everything that touches files durably, runs programs or makes Linux system
calls goes through here, so the logic above it can be read and tested
without surprises. Submodules: ``run`` (every child process: run, streams,
exec, typed errors), ``environ`` (every child's environment from an allowlist;
"in the enclave?", "in the container?"), ``tools`` (programs by root-owned
absolute path, or on PATH on purpose), ``procfs`` and ``procs`` (/proc),
``files`` (atomic writes, fsync, modes), ``creds`` (acting as the user),
``linux`` (namespaces, mounts, prctl via ctypes), ``mounts``, ``loop``,
``cryptsetup``.
"""
