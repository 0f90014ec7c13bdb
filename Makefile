# Two commands for a fresh machine (see README):
#   make lab    set everything up, then open JupyterLab on lessons/
#   make test   set everything up, then run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test setup lessons bench clean

lab: $(STAMP)
	$(BIN)/jupyter lab lessons/

test: $(STAMP)
	$(BIN)/python -m pytest

setup: $(STAMP)

# Rebuild lessons/ from solutions/ (refuses to overwrite a lesson you edited).
lessons: $(STAMP)
	$(BIN)/python -m cflearn.build

bench: $(STAMP)
	$(BIN)/python -m cflearn.bench --out bench-results

# The stamp is refreshed whenever the pins or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

clean:
	rm -rf $(VENV)
