"""Adapters for where licitações come from."""
