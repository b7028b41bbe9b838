"""What a domain's routes and schemas use: problem responses, domain errors, request models,
and the app's resources and settings from inside a request."""

from ._core.errors import DomainError
from ._core.openapi import problem_responses
from ._core.schemas import RequestModel, Text, name_field, omit_null
from ._core.state import resources_of, settings_of

__all__ = [
    "DomainError",
    "RequestModel",
    "Text",
    "name_field",
    "omit_null",
    "problem_responses",
    "resources_of",
    "settings_of",
]
