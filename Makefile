# The interface to the project: `make demo` runs the platform, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SCALE ?= small
SEED ?= 20241101
SERVE ?= 1
# the engine that builds the marts: duckdb (embedded default) or spark (Sail in local-cluster mode)
ENGINE ?= duckdb
STAFF_PORT ?= 8501
PORTAL_PORT ?= 8502
API_PORT ?= 8600
DAGSTER_PORT ?= 3000

export JIUZHU_HOME ?= $(CURDIR)/var
export JIUZHU_LAKE ?= $(JIUZHU_HOME)/lake
export JIUZHU_SCALE := $(SCALE)
export JIUZHU_SEED := $(SEED)
export JIUZHU_ENGINE := $(ENGINE)
export DAGSTER_HOME := $(JIUZHU_HOME)/dagster
# Every telemetry off: it stalls offline.
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: system-packages setup demo test bench bench-generate bench-province lint clean

# The demo's pseudonyms use a fixed, public key (marked as demo-only); a deployment sets
# JIUZHU_PSEUDONYM_KEY from its secret store instead.
demo: export JIUZHU_ALLOW_DEMO_KEY = 1

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "需要 Python 3.11 ($(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps 'dbt-sail==0.1.0'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

system-packages:
	@bash scripts/system-packages.sh

setup: system-packages $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

# the synthetic province's delivery months
FIRST_MONTH ?= 2024-11-01
LAST_MONTH ?= 2026-10-01

demo: setup
	$(BIN)/dagster job execute -m pipelines.definitions -j foundation
	$(BIN)/dagster asset materialize -m pipelines.definitions --select 'tag:layer=exchange' \
	  --partition-range $(FIRST_MONTH)...$(LAST_MONTH)
	$(BIN)/dagster job execute -m pipelines.definitions -j silver_derived
	$(BIN)/dagster asset materialize -m pipelines.definitions --select 'key:"warehouse/*"' \
	  --partition-range $(FIRST_MONTH)...$(LAST_MONTH)
	$(BIN)/dagster job execute -m pipelines.definitions -j publish_gold
	$(BIN)/dagster job execute -m pipelines.definitions -j serving_index
	$(BIN)/dagster job execute -m pipelines.definitions -j reverification
	$(BIN)/dagster job execute -m pipelines.definitions -j monitoring_training
	$(BIN)/dagster asset materialize -m pipelines.definitions --partition $(LAST_MONTH) \
	  --select 'key:"gold/monitoring/risk_scores" or key:"business/monitoring_warnings"'
	$(BIN)/jiuzhu users seed-demo
	$(BIN)/jiuzhu casework seed
	$(BIN)/dagster job execute -m pipelines.definitions -j casework
	$(BIN)/jiuzhu status
	$(BIN)/jiuzhu exchange status
ifeq ($(SERVE),1)
	@echo "员工端 staff app:  http://127.0.0.1:$(STAFF_PORT)"
	@echo "公众门户 portal:   http://127.0.0.1:$(PORTAL_PORT)"
	@echo "数据交换接口 API:  http://127.0.0.1:$(API_PORT)/docs   (jiuzhu api client-add 登记调用单位)"
	@echo "Dagster UI:        http://127.0.0.1:$(DAGSTER_PORT)   (Ctrl-C stops all four)"
	@trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/dagster-webserver -m pipelines.definitions -h 127.0.0.1 -p $(DAGSTER_PORT) >$(JIUZHU_HOME)/dagster-webserver.log 2>&1 & \
	  $(BIN)/streamlit run dashboards/staff/app.py --server.port $(STAFF_PORT) & \
	  $(BIN)/streamlit run dashboards/portal/app.py --server.port $(PORTAL_PORT) & \
	  $(BIN)/jiuzhu api serve --port $(API_PORT) & \
	  wait
endif

test: setup
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup --durations=15

# every stage on a generated small province (~15 min here); BENCH_REPEAT=3 for spreads
BENCH_STAGES ?= generate,ingest,marts,aggregate,verify,reverify,score,render
BENCH_REPEAT ?= 1
bench: setup
	$(BIN)/jiuzhu bench --scale small --stages $(BENCH_STAGES) --repeat $(BENCH_REPEAT)

bench-generate: setup
	$(BIN)/jiuzhu bench --scale small --scale medium --stages generate --repeat 1

bench-province: setup
	$(BIN)/jiuzhu bench --scale province --stages generate --repeat 1

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf var .pytest_cache
