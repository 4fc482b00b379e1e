"""Fault-injection suite of the exporter: scenarios that prove the guarantees of docs/guarantees.md.

Each scenario runs the deployed functions through the fan-out path: every tick, the dispatcher
(in a worker process, ``faultsuite.worker``) sends one work request per account to the FIFO work
queue, and the event source mapping (``esm_emulator``) invokes the worker function with each SQS
batch in worker processes of their own, against moto's server and the MGN emulator behind the
fault proxy. Then it counts item by item what reached EventBridge and the log group, and checks
every delivered copy's names against the world's: each world's servers have names in MGN (a
wave, applications, hostnames: ``names.WorldNames``), and an event of a named server goes out
with exactly those names, or without names and counted in ``EventsNotEnriched``. The derived
events (job outcomes, post-launch action statuses) are held to the world's launches and
post-launch actions the same way (``derived``).
``python -m local.faultsuite`` runs them; ``tests/faults`` runs them under pytest (the quick
subset by default, the full set with ``-m slow``).
"""
