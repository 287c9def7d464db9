# Doorstep: `make demo` and `make test` are the two commands a newcomer needs (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test bench lint system-runtime system-test clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Doorstep needs Python 3.11 or newer as $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

system-runtime:
	@installer/system-packages.sh runtime

system-test:
	@installer/system-packages.sh test

demo: system-runtime $(VENV)/.installed
	@installer/demo.sh

# The suite runs as two pytest processes at once (tests/run-suite.sh says why); pytest's
# exit 5 (no tests collected) fails it, unless PYTEST_ARGS narrowed it on purpose.
test: system-test $(VENV)/.installed
	$(VENV)/bin/ruff check .
	@PYTHON=$(PY) tests/run-suite.sh $(PYTEST_ARGS)

bench: $(VENV)/.installed
	@for benchmark in bench/*.py; do \
		case "$$benchmark" in */common.py|*/__init__.py) continue ;; esac; \
		$(PY) "$$benchmark" || exit 1; \
	done

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
