"""Standalone command-line tools (run from the repository root as `python -m tools.<name>`).

Nothing here imports from `scripts/`."""
