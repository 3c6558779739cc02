"""Benchmarks of goldsplit against a raw PostgreSQL baseline measured in the same run (`make bench`)."""
