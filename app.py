#!/usr/bin/env python3
"""CDK app: `cdk deploy`, or `CDK_OUTDIR=<dir> python app.py` to synthesize offline.

cdk-nag's AwsSolutions checks run on every synth; any unsuppressed finding fails it.
"""

import sys

from infra.application import build_app, environment_from_os, findings
from infra.config import ConfigError

try:
    app, _ = build_app(env=environment_from_os())
except ConfigError as error:
    # A bad context value or an unsupported Region: the message says which, no traceback.
    sys.exit(f"synth failed: {error}")
assembly = app.synth()
problems = findings(assembly)
if problems:
    print("\n".join(str(p) for p in problems), file=sys.stderr)
    sys.exit(f"synth failed: {len(problems)} error(s) or unsuppressed cdk-nag finding(s)")
