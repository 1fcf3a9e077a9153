"""The README's "Upgrade an archive" and "Use in CI" commands run as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = ROOT / "examples" / "archive"


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def _commands(title: str) -> list[tuple[str, int]]:
    """The ```sh lines of a section, with the exit code a trailing `# exit N` announces."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", _section(title), re.S):
        for line in block.strip().splitlines():
            expected = re.search(r"#\s*exit (\d)", line)
            commands.append((line.split("#")[0].strip(), int(expected.group(1)) if expected else 0))
    return commands


def test_readme_archive_and_ci_commands_run(tmp_path: Path) -> None:
    """Upgrade an archive, then validate it as CI would: every command exits as announced."""
    exports = tmp_path / "exports"
    exports.mkdir()
    for source in sorted(EXAMPLES.rglob("*.json")):
        if "melted" not in source.name:
            shutil.copy(source, exports / source.name)
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        NO_COLOR="1",
    )
    ran = []
    for title in ("Upgrade an archive", "Use in CI"):
        for command, expected in _commands(title):
            done = subprocess.run(
                command,
                shell=True,
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == expected, (command, done.stdout, done.stderr)
            assert "Traceback" not in done.stderr
            ran.append(command)
    assert (tmp_path / "backup" / "docmigrate-backup-manifest.jsonl").is_file()
    assert (tmp_path / "docmigrate-junit.xml").read_text().startswith("<?xml")
    assert "flowchart LR" in (tmp_path / "versions.mmd").read_text()
    workflow = re.search(r"```yaml\n(- name: Validate exports.*?)```", README, re.S)
    assert workflow is not None
    assert workflow.group(1).strip().splitlines()[-1].strip() in ran


def test_pre_commit_hook_command_validates_files(tmp_path: Path) -> None:
    """The hook's entry, given file names as pre-commit does, passes valid and fails invalid."""
    entry = re.search(r"^  entry: (.+)$", (ROOT / ".pre-commit-hooks.yaml").read_text(), re.M)
    assert entry is not None
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    files = sorted(str(p) for p in EXAMPLES.rglob("*.json"))
    good = [f for f in files if "melted" not in f]
    bad = [f for f in files if "melted" in f]
    for names, expected in ((good, 0), (bad, 1)):
        done = subprocess.run(
            [*entry.group(1).split(), *names], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == expected, done.stdout


def test_readme_evolve_a_family_commands_run(tmp_path: Path) -> None:
    """The "Evolve a family" commands (new, edit, diff, check, lock) exit as announced."""
    families = tmp_path / "families"
    shutil.copytree(
        ROOT / "src" / "docmigrate" / "families" / "production_history",
        families / "bakes",
        ignore=shutil.ignore_patterns("__pycache__", "docmigrate.lock"),
    )
    toml = families / "bakes" / "family.toml"
    toml.write_text(toml.read_text().replace('"production-history"', '"bakes"'))
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        NO_COLOR="1",
    )
    commands = _commands("Evolve a family")
    assert [c.split()[1] for c, _ in commands if c.startswith("docmigrate")] == [
        "new", "diff", "new", "check", "lock",
    ]  # fmt: skip
    for command, expected in commands:
        done = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == expected, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
    lock = (families / "bakes" / "docmigrate.lock").read_text()
    assert lock.count('status = "released"') == 3
