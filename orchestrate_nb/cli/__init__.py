"""The ``orchestrate-nb`` command line: ``app`` parses, one module per command group runs."""
