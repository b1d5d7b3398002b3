.PHONY: demo test lint bench-detectors bench-e2e bench-nab setup

demo:
	@scripts/bootstrap.sh demo
	@.venv/bin/pynomaly demo

test:
	@scripts/bootstrap.sh test
	@.venv/bin/ruff check pynomaly flows benchmarks tests
	@.venv/bin/python -m pytest -q -p no:cacheprovider

lint:
	@.venv/bin/ruff check pynomaly flows benchmarks tests

bench-detectors:
	@scripts/bootstrap.sh test
	@.venv/bin/python -m pip install -q -e ".[bench]"
	@.venv/bin/pynomaly bench detectors

bench-e2e:
	@scripts/bootstrap.sh test
	@.venv/bin/pynomaly bench e2e

bench-nab:
	@scripts/bootstrap.sh test
	@.venv/bin/pynomaly bench nab --data ../shared/nab --detector default --out out/nab
