# Two commands for a fresh machine (see README):
#   make lab    set everything up, then open JupyterLab on lessons/
#   make test   set everything up, then run the whole test suite
# Options:
#   PYTHON=python3.12   the interpreter .venv is built from (3.11 or newer); changing it rebuilds .venv
#   TORCH=cuda          PyTorch's default build from PyPI (with CUDA: about 2.7 GB on Linux) instead
#                       of the CPU build (about 0.2 GB), which every lesson is sized for
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The stamp is one line, "python=VERSION PATH torch=BUILD": what .venv was built from.
# Without PYTHON=..., keep using the interpreter .venv was built from (if it is still there).
STAMPED_PYTHON := $(word 2,$(shell cat $(STAMP) 2>/dev/null))
PYTHON ?= $(or $(wildcard $(STAMPED_PYTHON)),python3)
PYTHON_ID := $(shell $(PYTHON) -c 'import os, platform, sys; print(platform.python_version(), os.path.realpath(sys.executable))' 2>/dev/null)

# PyTorch: the CPU build unless TORCH=cuda. The version comes from requirements.txt; the build is
# chosen here because PyPI's Linux wheel pulls about 2.5 GB of CUDA libraries. postBuild (Binder)
# installs the same build; tests/test_environment.py holds the two together.
TORCH ?= cpu
TORCH_VERSION := $(shell sed -n 's/^torch==\([0-9][0-9.]*\).*/\1/p' requirements.txt)
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
ifeq ($(TORCH),cpu)
  ifeq ($(shell uname -s),Darwin)
    # macOS wheels on PyPI have no CUDA, and the CPU index has no "+cpu" build for macOS
    TORCH_SPEC := torch==$(TORCH_VERSION)
  else
    # "+cpu" is the CPU index's name for the build; PyPI has no such version, so pip cannot
    # quietly fall back to the CUDA build when the CPU index is out of reach
    TORCH_SPEC := torch==$(TORCH_VERSION)+cpu
    TORCH_INDEX := --extra-index-url $(TORCH_CPU_INDEX)
  endif
else ifeq ($(TORCH),cuda)
  TORCH_SPEC := torch==$(TORCH_VERSION)
else
  $(error TORCH=$(TORCH) is not understood: use TORCH=cpu (the default) or TORCH=cuda)
endif

# JupyterLab refuses to start as root (Docker, cloud machines) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

.PHONY: lab lab-solutions test setup lessons bench clean FORCE

lab: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) lessons/

# The solved notebooks, in a JupyterLab of their own (the one `make lab` opens shows only lessons/).
lab-solutions: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) solutions/

test: $(STAMP)
	$(BIN)/python -m pytest

setup: $(STAMP)

# Rebuild lessons/ from solutions/ (refuses to overwrite a lesson you edited).
lessons: $(STAMP)
	$(BIN)/python -m cflearn.build

bench: $(STAMP)
	$(BIN)/python -m cflearn.bench --out bench-results

# Rebuild the environment when the pins, the package metadata or the JupyterLab settings changed,
# and when the interpreter or the PyTorch build asked for differs from the one in the stamp.
ifneq ($(shell cat $(STAMP) 2>/dev/null),python=$(PYTHON_ID) torch=$(TORCH))
$(STAMP): FORCE
endif

# Steps, in order: check the interpreter before creating anything; start from a fresh .venv when
# the last setup did not finish or used another interpreter; PyTorch's build on its own (only
# torch itself from the CPU index, so a slow or unreachable index costs seconds, not minutes);
# then the pins, which the installed torch already satisfies; the package; the JupyterLab settings.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml .jupyter/overrides.json
	@v=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || $(PYTHON) --version 2>&1); \
	v=$$(printf '%s\n' "$$v" | grep -oE '[0-9]+\.[0-9]+' | head -n 1); \
	if ! printf '%s\n' "$$v" | awk -F. '{ exit !($$1 > 3 || ($$1 == 3 && $$2 >= 11)) }' 2>/dev/null || [ -z "$$v" ]; then \
	    echo "The course needs Python 3.11 or newer, but $(PYTHON) is $${v:-not a Python that runs}: install Python 3.11 (Ubuntu/WSL: sudo apt install python3.11 python3.11-venv) and run: make $(or $(MAKECMDGOALS),lab) PYTHON=python3.11" >&2; \
	    exit 1; \
	fi
	@if [ -d $(VENV) ] && [ "$(STAMPED_PYTHON)" != "$(word 2,$(PYTHON_ID))" ]; then \
	    echo "Rebuilding $(VENV) for $(PYTHON) ($(word 1,$(PYTHON_ID)))"; rm -rf $(VENV); fi
	rm -f $(STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(filter cuda,$(TORCH)),$(BIN)/python -c "import importlib.metadata as m; raise SystemExit('+cpu' not in m.version('torch'))" 2>/dev/null \
	    && $(BIN)/python -m pip uninstall --quiet --yes torch || true)
	$(BIN)/python -m pip install --quiet --no-deps --retries 2 --timeout 30 $(TORCH_INDEX) "$(TORCH_SPEC)" \
	    || { echo "Could not install PyTorch $(TORCH_SPEC)$(if $(TORCH_INDEX), from $(TORCH_CPU_INDEX)). Check the connection, or take PyPI's default build instead (about 2.7 GB on Linux): make $(or $(MAKECMDGOALS),lab) TORCH=cuda" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp .jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	echo "python=$(PYTHON_ID) torch=$(TORCH)" > $(STAMP)

FORCE:

clean:
	rm -rf $(VENV)
