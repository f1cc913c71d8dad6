#!/usr/bin/env bash
# Create benchmarks/.venv-prefect with Prefect 3 for `make bench-compare`.
# fastapi is pinned beside it: newer fastapi releases break Prefect 3.8's local server.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PREFECT_VENV:-$HERE/.venv-prefect}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import prefect" 2>/dev/null; then
    echo "Prefect venv ready: $VENV ($("$VENV/bin/python" -c 'import prefect; print(prefect.__version__)'))"
    exit 0
fi

echo "Creating Prefect venv in $VENV"
"$PYTHON" -m venv "$VENV"
# pip's noise about missing local find-links folders is dropped; its exit code is kept.
quiet_pip() {
    "$VENV/bin/python" -m pip install --quiet "$@" 2>&1 \
        | { grep -v "is neither a file nor a directory" || true; }
}
quiet_pip --upgrade pip
quiet_pip "prefect>=3,<4" "fastapi==0.154.0"
echo "Installed Prefect $("$VENV/bin/python" -c 'import prefect; print(prefect.__version__)')"
