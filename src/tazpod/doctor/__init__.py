"""`tazpod doctor`: checks of what the enclave's isolation rests on, each with a fix.

``model`` is a check and its result; ``container`` reads the engine's description of the
project's container; ``host`` the settings, vault files, swap and kernel; ``live`` the
probes against an open enclave (run in the container by ``probe``); ``service`` puts
them together in the order the report shows them.
"""
