"""Structured logs (OBS-3): a logger whose lines carry the request's and the trace's IDs."""

from ._core.logging import get_logger

__all__ = ["get_logger"]
