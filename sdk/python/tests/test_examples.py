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


def test_nvm_job_streams_its_progress(url: str) -> None:
    """docs/python.md's researcher flow: the nvm-job operator, installed by the example, streams
    five progress replies, the last done; energy decays (the ring is damped)."""
    out = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "nvm_job.py"), url, "--install"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines[:5]] == [f"step {s}/2000" for s in range(400, 2001, 400)]
    assert lines[4].endswith("(done)") and not any(ln.endswith("(done)") for ln in lines[:4])
    energies = [float(ln.split("energy ")[1].split(" J")[0]) for ln in lines[:5]]
    assert energies == sorted(energies, reverse=True) and energies[0] < 20
    # No policy on this node: the 75 J job runs too (the policy case is tested in
    # operators/builtin/nvm-job/node_e2e_test.ts).
    assert lines[5:] == [f"ran: {s}" for s in (400, 800, 1200, 1600, 2000)]
