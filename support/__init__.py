"""Helpers of the tests and benchmarks, kept out of the library: local PostgreSQL servers, the
service as a process on loopback, synthetic corpora at scale, free ports. src/hybridrag never
imports this package; bench scripts run as `python -m bench.NAME` so that it is importable."""
