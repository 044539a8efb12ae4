"""Subcommands of the ``lowbit`` command line, one module each (see ``reports.cli``)."""
