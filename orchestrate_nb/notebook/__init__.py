"""Notebook integration: ``%%task`` cells, their static analysis, cache and staleness, the
``%flow`` commands, and the run graph.

Importing this package (or ``analysis``) does not import IPython; the modules that talk to
IPython import it themselves. Imports point down this list, never up (a test walks them and
fails on a cycle, tests/notebook/test_structure.py)::

    magics          the IPython adapter: traitlets configuration; the one place where an
                    OrchestrateError (NotebookUsageError for a bad line) becomes UsageError
      interactive   %%task: a cell run under the kernel's session flow run, then shown
      flow_commands %flow run | graph | status | history | clear-cache | deploy (dispatcher)
        flow_run    the saved notebook's task cells as one flow run
        deploy_command  %flow deploy
    graph/          the task graph (imports cells and status, never the commands)
      task_cells    the notebook's task cells as graph nodes; %flow graph
      live, widget  the live run-graph widget (anywidget; view in static/graph.js, .css)
      model, nodes  RunEvents in, nodes and edges out
      html, fallback, svg, layout   the saved graph: HTML, SVG and text; positions
      states        the node-state table (mark, colour, final), sent to the view
    cells, status, history       the notebook's task cells, staleness, run history
    cell_run        one execution as an engine Task: key, function, hooks
    spec, options, compiled      from cell text to options, analysis and code objects
    cell_result     what a cache entry holds; the result storage that never fails a cell
    fingerprints    input fingerprints, the kernel's known values, the cache key
    cell_files      files as a cell's inputs and outputs: the key part, the result storage
      file_access   what a cell opens (the interpreter's audit hook), per thread
      file_state    file fingerprints (stat, then xxh3), declared files, the manifest
    capture         output recorded while shown live, replayed on a hit
    explain         why a cell ran, and the badge
    state           what the kernel remembers: records, known values, the session
    notebook_file   the saved .ipynb: finding it, reading its cells
      editor        the cells as the editor has them (sent by the labextension before %flow)
    tracebacks      the user's own traceback
    analysis/       static analysis of a cell (pure: ast only), with _walker, _branches,
                    _scopes and dependencies (edges, order, cycles)

Below the package: ``core`` (definitions), the engine (``engine``), ``results`` and
``errors``; the engine reaches the live graph only through a name it looks up
(``engine.watchers``), never by import. See docs/architecture.md.
"""
