"""Helpers for the template's tests: generate projects, run their tools, start their services."""
