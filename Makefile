# The dev loop. Every target runs inside the virtualenv the README's commands create (.venv).
PY ?= .venv/bin/python
RUFF ?= .venv/bin/ruff

.PHONY: install test-fast test lint fmt docs bench constraints

install:  ## the README's test environment
	python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e ".[torch,test]" torch==2.13.0

test-fast:  ## everything that does not start Ray or run the whole sample: under a minute on 2 cores
	$(PY) -m pytest -q -m "not slow"

test:  ## the whole suite
	$(PY) -m pytest -q

lint:  ## what CI checks besides the tests
	$(RUFF) check . && $(RUFF) format --check .

fmt:
	$(RUFF) check --fix . && $(RUFF) format .

docs:  ## regenerate the stats.json reference in docs/stats.md from jobs/stats_schema.py
	$(PY) -c "from jobs.stats_schema import update_docs; update_docs()"

bench:  ## the quick benchmarks (each prints its figures and ends with one JSON line)
	$(PY) -m benchmarks.packing && $(PY) -m benchmarks.loader && $(PY) -m benchmarks.streaming \
		&& $(PY) -m benchmarks.mask_build && $(PY) -m benchmarks.dedup_speed

constraints:  ## re-pin after an upgrade
	{ head -2 constraints.txt; .venv/bin/pip freeze | grep -v "^#\|^-e\|corpusmill" | sed 's/+cpu$$//' | sort -f; } \
		> constraints.new && mv constraints.new constraints.txt
