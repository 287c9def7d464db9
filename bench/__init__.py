"""Benchmarks: each prints its figures against a floor measured in the same run."""
