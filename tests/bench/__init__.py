"""Tests of the benchmark harness and the counters it reads."""
