"""Gatehouse server: layered sub-packages, lowest first (see ARCHITECTURE.md)."""
