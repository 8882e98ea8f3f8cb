#!/usr/bin/env bash
# Build the one-folder desktop app dist/StoryMemStudio/ with PyInstaller, then run its --selftest.
#
#   build/build.sh [--no-selftest] [extra PyInstaller options, e.g. --clean]
#
# From a clean clone it creates .venv (python3.11+) and installs the project with the `build` extra;
# PYTHON=/path/to/python uses another environment instead. PyInstaller's work files go to build/work/.
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
if ! "$PY" -c "import PyInstaller, storyboard, storymem_engine, torch, diffusers, PySide6" 2>/dev/null; then
    echo "== installing the project and PyInstaller into $("$PY" -c 'import sys; print(sys.prefix)')"
    "$PY" -m pip install --quiet -e ".[build]"
fi

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
