"""Tests of the container runtime and its isolation libraries."""
