"""The stack launcher: compose when a Docker engine answers, else the native processes.

Run by `make up`, `make down`, `make status` (`make ps`), `make logs` and `make clean`, as
`python -m ops.stack up|down|status|logs|clean --mode auto|native|docker`. `topology` holds the
components, their ports (from `.env`) and addresses, which every other ops package reads.
"""
