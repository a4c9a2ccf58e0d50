#!/usr/bin/env bash
# Serve the decision tool with Voila for a room (`make decide-app`, and the browser tests): the
# configuration is apps/voila.json (read from the working directory: kernel culling, the lab
# extensions left out) and the page template apps/jupyter/voila/templates/room (found on JUPYTER_PATH).
# Extra arguments go to voila, e.g. --port=8866. VOILA names the voila executable (default: .venv's).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
voila="${VOILA:-$here/../.venv/bin/voila}"
export JUPYTER_PATH="$here/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
cd "$here"
exec "$voila" --no-browser "$@" decision_tool.ipynb
