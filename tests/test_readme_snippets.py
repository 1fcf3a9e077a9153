"""The README's command-line synopsis and CI snippets agree with the program and its releases."""

from __future__ import annotations

import re
from pathlib import Path

import click

from docmigrate.cli import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
HOOKS = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
GROUP = "docmigrate"  # the synopsis line of the program itself (`docmigrate --version`)


def _section(title: str) -> str:
    """The text of the README section headed ``## title``."""
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def _synopsis() -> dict[str, str]:
    """The Command line synopsis block: each command's lines joined, by command name."""
    block = re.search(r"```sh\n(.*?)```", _section("Command line"), re.S)
    assert block is not None
    lines: dict[str, str] = {}
    name = ""
    for line in block.group(1).splitlines():
        if line.startswith("docmigrate "):
            word = line.split()[1]
            name = GROUP if word.startswith("-") else word
            lines[name] = line
        else:  # an indented continuation of the command above
            lines[name] += " " + line.strip()
    return lines


def _common_options() -> set[str]:
    """The options the README says every command takes (the line after the synopsis)."""
    line = re.search(r"^Every command takes .*$", _section("Command line"), re.M)
    assert line is not None
    return set(re.findall(r"`(-{1,2}[a-z][\w-]*)", line.group(0)))


def _mentions(text: str, option: str) -> bool:
    """Whether ``option`` appears in ``text`` as a whole word."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def _missing_from_synopsis(name: str, command: click.Command, text: str) -> list[str]:
    """The options of ``command`` (and choice lists) that its synopsis ``text`` leaves out."""
    missing = []
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        names = [*param.opts, *param.secondary_opts]
        missing += [
            f"{name} {option}"
            for option in names
            if option not in _common_options() and not _mentions(text, option)
        ]
        if isinstance(param.type, click.Choice) and names[0] not in _common_options():
            choices = "|".join(str(choice) for choice in param.type.choices)
            if not any(f"{option} {choices}" in text for option in names):
                missing.append(f"{name} {names[0]} {choices}")
    return missing


def test_every_command_and_option_is_in_the_synopsis() -> None:
    """Each click command has a synopsis line naming all its options and choices."""
    synopsis = _synopsis()
    context = click.Context(cli)
    commands: dict[str, click.Command] = {
        name: command
        for name in cli.list_commands(context)
        if (command := cli.get_command(context, name)) is not None
    }
    assert set(commands) <= set(synopsis), f"no synopsis line: {set(commands) - set(synopsis)}"
    missing = _missing_from_synopsis(GROUP, cli, synopsis.get(GROUP, ""))
    for name, command in commands.items():
        missing += _missing_from_synopsis(name, command, synopsis[name])
    assert not missing, "options missing from the README's Command line synopsis: " + ", ".join(
        missing
    )


def test_synopsis_check_catches_a_missing_option() -> None:
    """A synopsis line without one of the command's options is reported (the check can fail)."""
    upgrade = cli.get_command(click.Context(cli), "upgrade")
    assert upgrade is not None
    line = _synopsis()["upgrade"].replace("[--progress-every N]", "")

    assert _missing_from_synopsis("upgrade", upgrade, line) == ["upgrade --progress-every"]


def _yaml_blocks() -> list[str]:
    """The ```yaml blocks of the Use in CI section."""
    return re.findall(r"```yaml\n(.*?)```", _section("Use in CI"), re.S)


def _released_versions() -> set[str]:
    """Versions with a release heading in CHANGELOG.md (`## [1.2.3] - date`)."""
    return set(re.findall(r"^## \[(\d+\.\d+\.\d+)\]", CHANGELOG, re.M))


def test_local_pre_commit_hook_runs_the_shipped_hooks_command() -> None:
    """The README's `repo: local` hook has the id, entry and file types of the shipped hook."""
    local = [block for block in _yaml_blocks() if "repo: local" in block]
    assert len(local) == 1

    for key in ("id", "entry", "types"):
        shipped = re.search(rf"^-? *{key}: (.+)$", HOOKS, re.M)
        assert shipped is not None, key
        assert re.search(rf"^ *-? *{key}: {re.escape(shipped.group(1))}$", local[0], re.M), key


def test_pre_commit_rev_is_a_released_version_or_a_commit() -> None:
    """A version tag as the pre-commit `rev` must be a release listed in CHANGELOG.md."""
    revs = re.findall(r"^ *rev: (\S+)", "\n".join(_yaml_blocks()), re.M)
    assert revs, "no rev in the pre-commit snippets"

    versions = [rev.removeprefix("v") for rev in revs if re.fullmatch(r"v?\d+(\.\d+)*", rev)]
    assert set(versions) <= _released_versions(), f"no such release: {versions}"


def test_actions_step_installs_from_the_index_only_after_a_release() -> None:
    """`pip install docmigrate` from the package index needs a release; before it, git+URL@sha."""
    installs = re.findall(r"pip install (.+)$", "\n".join(_yaml_blocks()), re.M)
    assert installs, "no pip install in the Actions snippet"

    from_index = [line for line in installs if "git+" not in line]
    assert not from_index or _released_versions(), f"nothing released yet: {from_index}"
    assert all("@" in line.split("git+", 1)[1] for line in installs if "git+" in line), (
        "a git install must pin a commit"
    )
