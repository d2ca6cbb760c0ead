"""Tether benchmark suite: the same scenarios against tether and the dbos library (see README.md)."""
