# Junction: `make demo` runs the platform on the embedded default; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Test data (the shared model and footage) lives beside the checkout on project machines;
# override with your own paths elsewhere. The product itself never reads these defaults.
export JUNCTION_TEST_MODEL ?= $(abspath ../shared/models/yolox_nano.onnx)
export JUNCTION_TEST_VIDEOS ?= $(abspath ../shared/videos)

# The second test pass runs the platform on PostgreSQL with Redis (one database per region).
PG_URL ?= postgres://postgres@127.0.0.1:5432
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# PG_DB lets two checkouts test on one server at once without dropping each other's databases.
PG_DB ?= junction
PG_ENV := DATABASE_URL=$(PG_URL)/$(PG_DB)_control \
	JUNCTION_REGIONS=eu-west=$(PG_URL)/$(PG_DB)_eu_west,us-east=$(PG_URL)/$(PG_DB)_us_east \
	REDIS_URL=$(TEST_REDIS_URL) JUNCTION_TASKS_EAGER=1 JUNCTION_TEST_BACKEND=postgres

.PHONY: install demo serve test test-sqlite test-postgres lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[edge,platform,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python manage.py migrate_all -v0
	$(BIN)/python manage.py demo_seed
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: test-sqlite test-postgres

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest

test-postgres: $(STAMP)
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(PG_URL)/postgres', connect_timeout=3).close()" 2>/dev/null; then \
		$(PG_ENV) $(BIN)/python -m pytest tests/platform; \
	elif [ "$$JUNCTION_REQUIRE_SERVICES" = "1" ]; then \
		echo "PostgreSQL at $(PG_URL) is down and JUNCTION_REQUIRE_SERVICES=1"; exit 1; \
	else \
		echo "PostgreSQL at $(PG_URL) is not reachable: skipping the PostgreSQL pass"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/mypy

# Benchmarks print their figures (and a baseline measured in the same run); they are not tests.
bench: $(STAMP)
	$(BIN)/python bench/edge.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/ingest.py --backfill
	$(BIN)/python bench/batch_parse.py
	$(BIN)/python bench/anomalies.py
	$(BIN)/python bench/rollups.py

clean:
	rm -rf var .pytest_cache
