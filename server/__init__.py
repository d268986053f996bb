"""Gatehouse server core: configuration, app factory, database, security and services."""

__version__ = "0.1.0"
