# Convenience aliases; the README's commands are the scripts themselves.
.PHONY: demo test lint
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
lint:
	.venv/bin/ruff check fleet tests bench && .venv/bin/mypy
