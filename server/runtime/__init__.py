"""Processes: the supervisor, its workers and the embedded database."""
