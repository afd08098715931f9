"""The documented examples run as written against a real node and print what the docs say."""

from __future__ import annotations

import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def _run(script: str, url: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, script), url],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "never retrieved" not in out.stderr, out.stderr
    return out.stdout.splitlines()


def test_quickstart(url: str) -> None:
    lines = _run("quickstart.py", url)
    assert lines[0].startswith("published #")
    assert lines[1].startswith("received sensors.kitchen.temp #") and "21.5" in lines[1]
    assert lines[2].startswith("100 more acked")
    assert lines[3] == "math.sum replied {'sum': 6}"
    assert lines[4].startswith("error NO_RESPONDERS: ")


def test_research_job_streams_progress_then_result(url: str) -> None:
    lines = _run("research_job.py", url)
    assert lines[0].startswith("job ") and lines[0].endswith(" accepted")
    assert lines[1:11] == [f"progress {p}%" for p in range(10, 101, 10)], "in order, none lost"
    assert lines[11] == "result {'loss': 0.042, 'epochs': 3}"
    assert len(lines) == 12
