# The two fresh-machine commands: `make demo` and `make test` (both install first, idempotently).
.PHONY: install demo test lint bench

install:
	bash deploy/install.sh

demo: install
	.venv/bin/triage demo

test:
	WITH_BROWSER=1 bash deploy/install.sh
	.venv/bin/python -m pytest -q

lint: install
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench: install
	.venv/bin/python benchmarks/end_to_end.py
