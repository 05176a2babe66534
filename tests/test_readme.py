"""The README's two commands are the ones CI and users run."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    lines = [line.strip() for line in (ROOT / "README.md").read_text().splitlines()]
    return [line for line in lines if line.startswith("python3 -m pip install")]


def test_readme_opens_with_the_two_commands():
    main_job, tests = _commands()[:2]
    assert "distgrad-run -n 2 examples/digits.py" in main_job
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    tests = _commands()[1]
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()
