"""The local cloud: everything that runs the exporter without AWS.

- ``sandbox``: ``make sandbox``, the deployed system on moto and the MGN emulator.
- ``mgn_emulator``: AWS Application Migration Service's API, validated against botocore's model.
- ``esm_emulator``: Lambda's SQS event source mapping (pollers, batches, partial failures).
- ``fault_proxy``: wire-level fault injection in front of moto and the emulator.
- ``loopback``: the background HTTP server lifecycle the three above share.
- ``moto_deploy``: the synthesized template deployed into moto's CloudFormation.
- ``faultsuite``: the guarantees proved under injected faults (``make faults``).
- ``benchmarks``: API calls and overhead measured (``make bench``, ``make bench-fanout``).
"""
