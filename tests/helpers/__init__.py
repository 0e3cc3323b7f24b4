"""Helpers shared by several test packages (and usable by the client's tests and benchmarks)."""
