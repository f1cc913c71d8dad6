"""Public home of the result serializers (``from orchestrate_nb.serializers import
JSONSerializer``), as ``prefect.serializers``."""

from orchestrate_nb.results.serializers import (
    BaseSerializer,
    CloudpickleSerializer,
    CompressedSerializer,
    JSONSerializer,
    PickleSerializer,
    SerializationError,
    Serializer,
    get_serializer,
    register_serializer,
)

__all__ = [
    "BaseSerializer", "CloudpickleSerializer", "CompressedSerializer", "JSONSerializer",
    "PickleSerializer", "SerializationError", "Serializer", "get_serializer",
    "register_serializer",
]
