"""Prefect's ``prefect.testing`` paths (``testing.utilities.prefect_test_harness``)."""
