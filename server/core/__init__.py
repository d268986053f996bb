"""The lowest layer: config, errors, clock, typed keys, HTTP constants (no imports of ours)."""

__version__ = "0.1.0"
