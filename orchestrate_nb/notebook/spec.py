"""From a ``%%task`` cell's text to a :class:`CellSpec`: options with the configured defaults
filled in, the analysis with ``--inputs``/``--outputs`` applied, the compiled code."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orchestrate_nb.notebook.analysis import CellAnalysis, CellSyntaxError, analyse_cell
from orchestrate_nb.notebook.cell_run import CellSpec, RunOptions
from orchestrate_nb.notebook.compiled import compile_cell
from orchestrate_nb.notebook.options import CellOptions, parse_duration


def run_options(options: CellOptions, config: Any) -> RunOptions:
    """The cell's options, with the TaskMagics defaults for what it does not set."""
    expiration = options.cache_expiration
    if expiration is None and config.default_cache_expiration:
        expiration = parse_duration(config.default_cache_expiration)
    return RunOptions(
        retries=_given(options.retries, config.default_retries),
        retry_delay=_given(options.retry_delay, config.default_retry_delay),
        timeout=_given(options.timeout, config.default_timeout) or None,
        tags=options.tags,
        cache=bool(config.cache) and not options.no_cache,
        refresh=options.refresh,
        cache_expiration=expiration,
        files=options.files)


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


def with_overrides(analysis: CellAnalysis, options: CellOptions) -> CellAnalysis:
    changes: dict[str, Any] = {}
    if options.inputs is not None:
        changes.update(inputs=options.inputs, builtins_read=())
    if options.outputs is not None:
        changes.update(outputs=options.outputs)
    return replace(analysis, **changes) if changes else analysis


def build_spec(shell: Any, config: Any, options: CellOptions, body: str, magic_line: str,
               filename: str | None = None, cell_id: str | None = None,
               notebook: str | None = None) -> CellSpec:
    """Raises SyntaxError (pointing into the cell) when the body is not valid."""
    try:
        analysis = analyse_cell(body)
    except CellSyntaxError as exc:
        failure: CellSyntaxError | None = exc
    else:
        failure = None
    if failure is not None:  # outside the except block: no chained "during handling"
        compile_cell(shell, body, magic_line, filename, False)  # raises the SyntaxError
        raise failure
    analysis = with_overrides(analysis, options)
    compiled = compile_cell(shell, body, magic_line, filename, analysis.last_expression)
    name = options.name or f"cell-{analysis.code_hash[:8]}"
    identity = options.name or (f"cell-id:{cell_id}" if cell_id else name)
    return CellSpec(name, identity, analysis, options.inputs is not None, compiled,
                    run_options(options, config), notebook, magic_line, body)
