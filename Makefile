# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv if missing and installs what it needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN ?= runs/demo

VENDOR := src/airshield/web/static/vendor
NPM_MODULES := web/node_modules

.PHONY: demo pipeline test bench clean venv web-assets chromium

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Front-end libraries for the live picture, from the npm registry at the versions
# pinned in web/package-lock.json, copied into the package (never a CDN).
$(VENDOR)/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp $(NPM_MODULES)/maplibre-gl/dist/maplibre-gl.js $(NPM_MODULES)/maplibre-gl/dist/maplibre-gl.css \
	   $(NPM_MODULES)/milsymbol/dist/milsymbol.js $(NPM_MODULES)/topojson-client/dist/topojson-client.min.js \
	   $(NPM_MODULES)/world-atlas/countries-50m.json $(VENDOR)/
	cp $(NPM_MODULES)/maplibre-gl/LICENSE.txt $(VENDOR)/LICENSE-maplibre-gl.txt
	cp $(NPM_MODULES)/milsymbol/LICENSE $(VENDOR)/LICENSE-milsymbol.txt
	cp $(NPM_MODULES)/topojson-client/LICENSE $(VENDOR)/LICENSE-topojson-client.txt
	cp $(NPM_MODULES)/world-atlas/LICENSE $(VENDOR)/LICENSE-world-atlas.txt
	touch $@

web-assets: $(VENDOR)/.installed

# Debian's Chromium for the browser test (Playwright drives it; no browser download).
chromium:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

# The live common operational picture at http://127.0.0.1:8000
demo: $(STAMP) web-assets
	$(BIN)/airshield demo

# The offline pipeline: simulate, track and score one run directory.
pipeline: $(STAMP)
	$(BIN)/airshield simulate demo --out $(RUN)
	$(BIN)/airshield track $(RUN)
	$(BIN)/airshield score $(RUN)

test: $(STAMP) web-assets chromium
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache $(VENDOR) $(NPM_MODULES) test-artifacts
