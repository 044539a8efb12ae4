"""Reports layer of lowbit: sweeps, tables, plots, HTML reports and the ``lowbit`` command line."""
