"""The local sandbox: the exporter on an embedded local cloud (moto's server, the MGN emulator)."""
