"""Loopback HTTP servers that stand in for the internet in tests, benchmarks and the demo."""
