"""The command line: parse, print, exit codes; one module per command."""
