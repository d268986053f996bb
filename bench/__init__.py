"""The benchmark harness: `python -m bench` (or `./dev bench`) prints the speed table."""
