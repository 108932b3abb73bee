"""devcontainer.json projects: `tazpod init --from-devcontainer` translates the file into
`.tazpod/config.yaml` (so that the approval of the settings covers all of it).

`jsonc` reads JSON with comments, `source` finds and reads the file, `variables`
replaces the spec's `${...}`, `lifecycle`, `mounts`, `run_args` and `features` translate
their properties (refusing what would widen the container's privileges), `translate`
puts it together and `write` records it in config.yaml, keeping tazpod's own keys and
the user's comments.
"""
