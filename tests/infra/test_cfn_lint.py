"""cfn-lint on the synthesized template: no errors, and no warnings we have not accepted."""

from __future__ import annotations

from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

from infra import constants as c
from tests.infra.conftest import Synth

# W3005: the CDK adds a DependsOn on the function's role that a GetAtt already implies.
ACCEPTED_WARNINGS = {"W3005"}


def test_cfn_lint_reports_no_errors(synth: Synth) -> None:
    # In every Region the stack claims: among others, E3006 fails a resource type that does not
    # exist in one of them.
    matches = lint_file(synth.template_path, config=ManualArgs(regions=list(c.SUPPORTED_REGIONS)))
    problems = [
        f"{m.rule.id} {m.message} ({m.path_string})"
        for m in matches
        if m.rule.id[0] == "E" or (m.rule.id[0] == "W" and m.rule.id not in ACCEPTED_WARNINGS)
    ]
    assert problems == []
