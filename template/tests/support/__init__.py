"""Helpers shared by the test suites: real processes and servers, started and stopped cleanly."""
