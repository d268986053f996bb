"""Support files for tests/handlers/test_fuzz_schemathesis.py (schemathesis hooks and config)."""
