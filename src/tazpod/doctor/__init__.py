"""`tazpod doctor`: checks of what the enclave's isolation rests on, each with a fix.

``model`` is a check and its result; ``gather`` asks the engine to describe the project's
container and ``container`` checks that; ``host`` checks the settings, vault files, swap
and kernel; ``live`` probes an open enclave (run in the container by ``probe``);
``service`` puts them together in the order the report shows them.
"""
