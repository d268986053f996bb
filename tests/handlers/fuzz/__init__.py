"""Support files for tests/test_fuzz_schemathesis.py (schemathesis hooks and config)."""
