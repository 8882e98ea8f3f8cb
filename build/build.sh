#!/usr/bin/env bash
# Build the one-folder desktop app dist/StoryMemStudio/ with PyInstaller, then run its --selftest.
#
#   build/build.sh [--no-selftest] [extra PyInstaller options, e.g. --clean]
#
# From a clean clone it creates .venv (python3.11+); it always installs the project with the `build` extra
# (pyproject's pins go into the bundle). PYTHON=/path/to/python uses another environment instead.
# PyInstaller's work files go to build/work/ (ignored by git), the app to dist/StoryMemStudio/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SELFTEST=1
ARGS=()
for arg in "$@"; do
    if [[ "$arg" == "--no-selftest" ]]; then SELFTEST=0; else ARGS+=("$arg"); fi
done

PY="${PYTHON:-$ROOT/.venv/bin/python}"
if [[ ! -x "$PY" ]]; then
    echo "== creating $ROOT/.venv"
    python3 -m venv "$ROOT/.venv"
fi
# Always: the bundle must carry the versions pyproject.toml pins (a few seconds when they are installed).
echo "== installing the project and PyInstaller into $("$PY" -c 'import sys; print(sys.prefix)')"
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[build]"

echo "== PyInstaller $("$PY" -m PyInstaller --version)"
start=$SECONDS
"$PY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/work" \
    ${ARGS[@]+"${ARGS[@]}"} "$ROOT/build/storymem_studio.spec"
APP="$ROOT/dist/StoryMemStudio/StoryMemStudio"
echo "== built $APP in $((SECONDS - start)) s, $(du -sh "$ROOT/dist/StoryMemStudio" | cut -f1)"

if [[ $SELFTEST == 1 ]]; then
    echo "== $APP --selftest"
    QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" "$APP" --selftest
fi
