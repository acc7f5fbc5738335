"""The soak: marketplace v2 alone under the load generator at the highest rate one process serves
(measured first), each fault switched on and off in turn; resource use and 5xx at the start and
the end; exit 1 on any growth of 5% or more, or any 5xx outside an injected error fault.

    python -m ops.soak --duration 10m      (make soak DURATION=10m)

Not in CI: it runs for minutes at full load. `probe.py` reads the process, `report.py` judges and
prints, `run.py` drives the service and the load.
"""
