"""The one progress bar of the long-running commands."""

from __future__ import annotations

import pytest

from upir.cli.progress import ProgressBar


def test_a_disabled_bar_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressBar("simulating", 3, enabled=False) as bar:
        for i in range(3):
            bar.advance(f"window {i}")
    assert capsys.readouterr() == ("", "")


def test_an_enabled_bar_counts_its_steps_on_stderr() -> None:
    with ProgressBar("tuning", 4, enabled=True) as bar:
        for i in range(4):
            bar.advance(f"window {i}")
        task = bar._bar.tasks[0]
        assert (task.completed, task.total, task.fields["info"]) == (4, 4, "window 3")
