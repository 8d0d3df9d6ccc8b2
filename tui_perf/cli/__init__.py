"""The face: `tui-perf` and its subcommands, argument parsing and one-line errors.

Owns parsing, the exit codes (0 fine, 1 a regression or a critical finding, 2 bad input) and
printing. No logic a library user would need lives here: each command calls the layers below
(dashboard, agent, bench, store, engine) and turns their errors into one line on stderr.
`main` is the console script; `parser` is the one argument parser every command shares.
"""
