"""CDK infrastructure of the MGN job log exporter: constructs, the stack, and deploy helpers."""
