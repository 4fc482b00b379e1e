"""Fault-injection suite of the exporter: scenarios that prove the README's guarantees.

Each scenario runs the real handler in worker processes (``faultsuite.worker``) against moto's
server and the MGN emulator behind the fault proxy, and counts item by item what reached
EventBridge and the log group. ``python -m faultsuite`` runs them; ``tests/faults`` runs them
under pytest (the quick subset by default, the full set with ``-m slow``).
"""
