"""Benchmarks that measure Dockyard beside its reference peers in the same run.

Each module is runnable as ``python -m bench.<name>``; ``bench.common`` holds what
they share (free ports, servers started and stopped by PID, medians, tables).
"""
