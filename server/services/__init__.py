"""Multi-step flows across collections (auth, sessions)."""
