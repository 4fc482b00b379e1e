"""``python app.py`` into a directory: the CDK app synthesized offline, as ``make synth`` does."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from local.sandbox.errors import SandboxError

REPO_ROOT = Path(__file__).resolve().parents[2]
SYNTH_TIMEOUT_SECONDS = 600


def synthesize(outdir: Path) -> float:
    """Synthesize the app into ``outdir``; returns the seconds it took."""
    outdir.mkdir(parents=True, exist_ok=True)
    # Nothing that could point at an AWS account: the template stays environment-agnostic.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_DEFAULT_", "CDK_CONTEXT_JSON"))
    }
    env["CDK_OUTDIR"] = str(outdir)
    env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    started = time.monotonic()
    # A session of its own, so that a Ctrl-C reaches the sandbox only, which then stops the
    # app and its node process together.
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=SYNTH_TIMEOUT_SECONDS)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    if process.returncode != 0:
        # app.py says what is wrong in one line ("synth failed: context ... must ..."): that
        # line alone, else the end of what it printed (a traceback).
        said = [line for line in stderr.splitlines() if line.startswith("synth failed")]
        raise SandboxError(said[-1] if said else f"synth failed (python app.py):\n{stderr[-4000:]}")
    return time.monotonic() - started
