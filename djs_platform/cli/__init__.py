"""``djsctl``, the command-line client of the DJS REST API (docs/djsctl.md). Standard library + httpx + PyYAML
only: it never imports Django, so it runs anywhere the package is installed."""
