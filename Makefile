# calltape: `make serve` runs the server on its embedded defaults, `make test` runs every check.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := gcc libc6-dev sip-tester espeak-ng mpg123 apache2-utils libmp3lame0 baresip chromium chromium-driver php-cli kamailio
# gcc (and Python's headers: python3-dev where the Python lacks them) builds the relay reader, media/_relay_reader.c
# only for the benchmarks: rtpengine, the relay ../shared/rtpengine measures calltape against; py-spy, their profiler
BENCH_APT_PACKAGES := rtpengine-daemon
BENCH_PIP_PACKAGES := py-spy
PYTHON ?= python3
# Compiled modules are kept (__pycache__): with PYTHONDONTWRITEBYTECODE set, every test worker and every server a
# test starts compiled calltape afresh, and pytest rewrote every test module each run (14 s of collection, not 6).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install apt bench-tools serve test lint bench clean

install: $(STAMP) apt

$(STAMP): pyproject.toml setup.py src/calltape/media/_relay_reader.c | apt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	rm -f src/calltape/media/_relay_reader.*.so  # built afresh: a failed build must not leave an old one in use
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -c 'import calltape.media._relay_reader' 2>/dev/null \
	  || echo "warning: the compiled relay reader was not built (calltape relays RTP in Python, slower)" >&2
	touch $(STAMP)

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c 'import os, sysconfig; raise SystemExit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' \
	  || dpkg -s python3-dev >/dev/null 2>&1 || missing="$$missing python3-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

serve: install
	$(VENV)/bin/calltape serve

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

test: install lint
	$(VENV)/bin/pytest -q --durations=15 -n 4 --dist loadfile

bench-tools: install
	$(MAKE) --no-print-directory apt APT_PACKAGES="$(BENCH_APT_PACKAGES)"
	$(PY) -m pip install --quiet $(BENCH_PIP_PACKAGES)

bench: install bench-tools
	$(PY) bench/sip/run.py
	$(PY) bench/media/run.py
	$(PY) bench/bridge/run.py
	$(PY) bench/recording/run.py --flow echo --calls 200,500,1000
	$(PY) bench/recording/run.py --flow bridged --calls 500
	$(PY) bench/receiver/run.py
	$(PY) bench/fuzz/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
