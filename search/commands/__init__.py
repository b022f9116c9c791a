"""Subcommands of the designspace CLI (see designspace/cli.py)."""
