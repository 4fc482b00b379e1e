"""The sandbox's command line: defaults shown, bad values refused before anything starts."""

from __future__ import annotations

import pytest

from local.sandbox.cli import parse_args
from local.sandbox.words import plural


def test_help_shows_each_options_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--accounts", "--uninitialized", "--jobs", "--error-rate", "--workers"):
        assert option in text
    assert "(default: 5)" in text and "(default: 1)" in text and "(default: 0.0)" in text


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--error-rate", "1.5"], "argument --error-rate: must be between 0 and 1, got 1.5"),
        (["--throttle-rate", "-0.1"], "argument --throttle-rate: must be between 0 and 1"),
        (["--accounts", "0"], "argument --accounts: must be between 1 and 1000, got 0"),
        (["--workers", "two"], "argument --workers: must be int, got 'two'"),
        (["--page-size", "0"], "argument --page-size: must be between 1 and 1000"),
    ],
)
def test_a_bad_value_is_refused_naming_the_option(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err


def test_a_world_without_an_uninitialized_account() -> None:
    options = parse_args(["--accounts", "3", "--uninitialized", "0"])
    assert (options.accounts, options.uninitialized) == (3, 0)


def test_counts_read_as_english() -> None:
    assert plural(1, "account") == "1 account"
    assert plural(1156, "item") == "1,156 items"
    assert plural(2, "batch") == "2 batches"
    assert plural(0, "tick") == "0 ticks"


def test_keep_running_options() -> None:
    options = parse_args(["--keep-running"])
    assert options.keep_running and options.keep_running_ticks is None
    assert options.keep_running_every == 15.0
    options = parse_args(
        ["--keep-running", "--keep-running-every", "5", "--keep-running-ticks", "2"]
    )
    assert (options.keep_running_every, options.keep_running_ticks) == (5.0, 2)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--keep-running-ticks", "2"], "--keep-running-ticks needs --keep-running"),
        (["--keep-running-every", "5"], "--keep-running-every needs --keep-running"),
        (
            ["--keep-running", "--keep-running-every", "4"],
            "argument --keep-running-every: must be at least 5, got 4",
        ),
        (["--keep-running", "--keep-running-ticks", "0"], "must be at least 1, got 0"),
    ],
)
def test_keep_running_options_are_refused_alone_or_too_fast(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    assert said in capsys.readouterr().err
