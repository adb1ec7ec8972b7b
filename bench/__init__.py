"""Benchmarks against the local stack; results land in bench/results/."""
