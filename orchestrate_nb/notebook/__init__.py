"""Notebook integration: ``%%task`` cells, their static analysis, cache and staleness, and the
``%flow`` commands.

Importing this package (or ``analysis``) does not import IPython; the modules that talk to
IPython import it themselves. The flow through a ``%%task`` cell::

    magics          the IPython adapter: traitlets configuration, UsageError translation
      interactive   %%task: a cell run under the kernel's session flow run, then shown
      flow_commands %flow run | graph | status | history | clear-cache
        flow_run    the saved notebook's task cells as one flow run
    spec, options, compiled      from cell text to options, analysis and code objects
    cell_run        one execution as an engine Task: key, function, hooks
    cell_result     what a cache entry holds; the result storage that never fails a cell
    fingerprints    input fingerprints, the kernel's known values, the cache key
    cell_files      files as a cell's inputs and outputs: the key part, the result storage
      file_access   what a cell opens (the interpreter's audit hook), per thread
      file_state    file fingerprints (stat, then xxh3), declared files, the manifest
    capture         output recorded while shown live, replayed on a hit
    explain         why a cell ran, and the badge
    state           what the kernel remembers: records, known values, the session
    cells, status, history       the notebook's task cells, staleness, run history
    layout, svg     the task graph: positions (shared with the widget) and a static SVG
    tracebacks      the user's own traceback
    analysis        static analysis (with _walker, _branches, _scopes, dependencies)
"""
