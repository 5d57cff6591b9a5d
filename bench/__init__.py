"""Benchmarks for Kinoite Portal: ``python -m bench`` runs every item and prints one table (see bench/__main__.py)."""
