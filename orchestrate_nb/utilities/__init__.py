"""Prefect's ``prefect.utilities`` paths that user code imports (``annotations``)."""
