"""Benchmarks of the hotline: every case next to ceilings measured in the same run.

``python -m benchmarks [--quick] [--database sqlite|postgresql|both] [--only CASE]``;
see benchmarks/README.md for what each case and ceiling means.
"""
