"""The one thin layer over the operating system.

Everything that touches files durably, runs programs or makes Linux system
calls goes through here, so the logic above it can be read and tested
without surprises. Submodules: ``files`` (atomic writes, fsync, modes),
``proc`` (subprocesses), ``linux`` (namespaces, mounts, prctl via ctypes).
"""
