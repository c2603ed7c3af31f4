"""Helpers shared by tests: import them as ``tests.helpers.<module>``."""
