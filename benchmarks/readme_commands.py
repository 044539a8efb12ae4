"""Time the README's two Quick-start commands on a fresh clone, cold: a new clone of this
repository in a temporary folder, a new venv (the commands create it), an empty lowbit cache
(``LOWBIT_CACHE_DIR``), so every cost unit is characterised from scratch. Prints the wall time of
each command and the demo's own per-section times.

The commands are read from README.md (the first two code blocks of "## Quick start"), so the
figure is for the commands a reader runs, not a copy of them. It takes long (the test command
runs the whole default test suite): a benchmark, not a test.

    python benchmarks/readme_commands.py                 # both commands
    python benchmarks/readme_commands.py --only demo     # the first one (lowbit demo) only
    python benchmarks/readme_commands.py --keep          # keep the clone to look at its files
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["readme_commands", "main"]

ROOT = Path(__file__).resolve().parents[1]


def readme_commands(readme: Path) -> list[str]:
    """The code blocks of the README's "## Quick start" section, in order."""
    text = readme.read_text(encoding="utf-8")
    start = text.index("## Quick start")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else None]
    return [b.strip() for b in re.findall(r"```\n(.*?)```", section, flags=re.S)]


def _run(command: str, cwd: Path, env: dict, log: Path) -> tuple[float, int]:
    """Run ``command`` in a shell; stream its output to the terminal and ``log``; (seconds, rc)."""
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            sys.stdout.write(line)
            out.write(line)
        rc = proc.wait()
    return time.perf_counter() - t0, rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("demo", "tests"), help="time one command only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    args = parser.parse_args(argv)
    commands = readme_commands(ROOT / "README.md")
    if len(commands) < 2 or "lowbit demo" not in commands[0] or "pytest" not in commands[1]:
        raise SystemExit(f"README.md Quick start must hold the demo and test commands first, not {commands[:2]!r}")
    chosen = {"demo": [0], "tests": [1], None: [0, 1]}[args.only]
    work = Path(tempfile.mkdtemp(prefix="lowbit-readme-"))
    clone = work / "lowbit"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["LOWBIT_CACHE_DIR"] = str(work / "cache")  # cold: nothing characterised yet
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    results = []
    try:
        for i in chosen:
            print(f"\n### README command {i + 1} (clone of {head}, cold cache, {os.cpu_count()} cores):\n"
                  f"$ {commands[i]}", flush=True)
            seconds, rc = _run(commands[i], clone, env, work / f"command{i + 1}.log")
            results.append((i, seconds, rc))
        print("\n### figures")
        for i, seconds, rc in results:
            what = "lowbit demo" if i == 0 else "test suite"
            print(f"README command {i + 1} ({what}): {seconds:.0f} s wall, exit code {rc}")
            if i == 0:
                for line in (work / "command1.log").read_text(encoding="utf-8").splitlines():
                    if line.startswith(("== [", "-> shown:", "demo done")):
                        print(f"  {line[:160]}")
    finally:
        if args.keep:
            print(f"clone kept in {clone}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return max((rc for _, _, rc in results), default=0)


if __name__ == "__main__":
    sys.exit(main())
