#!/usr/bin/env bash
# The GPU-only checks in one command (benchmarks/gpu_check.py says what each one checks); no downloads.
# Usage: benchmarks/gpu_check.sh [gpu_check options, e.g. --skip-train-probe or --work DIR]
# Runs from the repository root with $PYTHON, else .venv/bin/python, else python3. Exit status: 0 all
# checks passed, 1 a check failed, 2 no CUDA device, 124 it ran past $GPU_CHECK_TIMEOUT seconds (600).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n "${PYTHON:-}" ]]; then
    py="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
    py=.venv/bin/python
else
    py=python3
fi
if ! "$py" -c "import torch" 2>/dev/null; then
    echo "gpu_check: $py cannot import torch: install the test environment first (make install)" >&2
    exit 2
fi
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
status=0
timeout "${GPU_CHECK_TIMEOUT:-600}" "$py" -m benchmarks.gpu_check "$@" || status=$?
if [[ $status -eq 124 ]]; then
    echo "gpu_check: stopped after ${GPU_CHECK_TIMEOUT:-600} s" >&2
fi
exit "$status"
