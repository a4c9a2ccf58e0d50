# The two commands of the course (see README.md): `make lab` and `make test`.
.PHONY: setup lab test lock decide-app
setup:
	@bash scripts/setup.sh

# JupyterLab refuses to start as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	.venv/bin/jupyter lab $(ROOT_FLAG) --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb

test:
	@bash scripts/test.sh

# The decision tool as a standalone page for workshops (no code cells shown); its Voila config and
# page template are in apps/ (apps/README.md).
decide-app: setup
	bash apps/serve.sh --port=8866

# Re-pin after a deliberate upgrade; commit the result only after `make test` passes.
lock:
	@{ head -2 requirements/constraints.txt; .venv/bin/python -m pip freeze --exclude-editable \
	  | grep -v '^ragft' | sed 's/^torch==2.13.0+cpu$$/torch==2.13.0/'; } > requirements/constraints.new
	@mv requirements/constraints.new requirements/constraints.txt
