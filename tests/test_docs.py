"""The documentation in docs/ is checked against the code: settings, flags, modules and examples."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from calltape import config
from calltape.api.schemas import MediaConfig
from calltape.callflow.module import MODULES
from calltape.callflow.validation import validate_callflow
from calltape.cli import build_parser
from calltape.receiver import server as receiver_server
from calltape.receiver import settings as receiver_settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "calltape"
CONFIGURATION = (DOCS / "configuration.md").read_text()
CALLFLOWS = (DOCS / "callflows.md").read_text()


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _section(text: str, heading: str) -> str:
    """The text under a ``## heading`` up to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section '## {heading}'"
    return match.group(1)


def _table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]


def _row(text: str, key: str) -> list[str]:
    """The table row whose TOML key column is ``key``."""
    rows = [r for r in _table_rows(text) if f"`{key}`" in r[:2]]
    assert len(rows) == 1, f"`{key}` should have exactly one row"
    return rows[0]


def _shown(value: Any) -> str:
    """A default as the docs write it."""
    if value is None:
        return ""  # none: written "empty"
    if isinstance(value, config.HostPort | Path):
        return str(value)
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}-{value[1]}"  # a port range
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_flag_is_documented(command: str) -> None:
    section = _section(CONFIGURATION, f"`calltape {command}`")
    for action in _subcommands()[command]._actions:
        for flag in action.option_strings:
            if flag.startswith("--") and flag != "--help":
                assert re.search(rf"`{re.escape(flag)}[` ]", section), f"calltape {command} {flag} is not in docs"


@pytest.mark.parametrize(
    ("section", "dataclass", "prefix"),
    [
        ("`calltape serve`", config.Settings, "CALLTAPE_"),
        ("`calltape receiver`", receiver_settings.ReceiverSettings, "CALLTAPE_RECEIVER_"),
    ],
)
def test_every_setting_has_its_key_variable_and_default(section: str, dataclass: type, prefix: str) -> None:
    text = _section(CONFIGURATION, section)
    for f in fields(dataclass):
        row = _row(text, f.name)
        assert f"`{prefix}{f.name.upper()}`" in row[2], f"{f.name}: environment variable"
        default = _shown(f.default_factory() if f.default is MISSING else f.default)
        documented = row[3]
        if default:
            assert f"`{default}`" in documented, f"{f.name}: default {default!r}, docs say {documented!r}"
        else:
            assert documented.startswith("empty"), f"{f.name}: default is empty, docs say {documented!r}"


def test_keys_accepted_besides_the_settings_are_documented() -> None:
    """Names a config file may hold that are not settings fields (``[receiver]``, ``enabled``)."""
    for module in (config, receiver_settings):
        source = Path(module.__file__ or "").read_text()
        for extra in re.findall(r"- set\(KEYS\)\s*-\s*\{([^}]*)\}", source):
            for name in re.findall(r'"(\w+)"', extra):
                assert f"`{name}`" in CONFIGURATION or f"[{name}]" in CONFIGURATION, name


def test_every_environment_variable_in_the_code_is_documented() -> None:
    internal = {receiver_server._SETTINGS_ENV}  # how the receiver hands settings to its worker processes
    found = set()
    for path in SRC.rglob("*.py"):
        found |= set(re.findall(r"\"(CALLTAPE_[A-Z0-9_]*[A-Z0-9])\"", path.read_text()))
    assert found  # the scan works
    for name in sorted(found - internal):
        assert f"`{name}`" in CONFIGURATION, f"{name} is read by the code but not in docs/configuration.md"


def _model_keys(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    keys: list[tuple[str, Any]] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += _model_keys(annotation, f"{prefix}{name}.")
        else:
            keys.append((prefix + name, info.default))
    return keys


def test_system_config_media_keys_and_defaults() -> None:
    text = _section(CONFIGURATION, "system_config `media`")
    for key, default in _model_keys(MediaConfig):
        row = _row(text, key)
        shown = default if isinstance(default, str) else json.dumps(default)
        assert f"`{shown}`" in row[1], f"{key}: default {shown}, docs say {row[1]!r}"


def test_every_module_has_a_section() -> None:
    headings = set(re.findall(r"^## (\w+)$", CALLFLOWS, re.M))
    names = {module.name for module in MODULES.values()}
    assert names - headings == set(), "modules without a section in docs/callflows.md"
    assert headings & set(MODULES) == names  # no section for a module that does not exist
    for alias in set(MODULES) - names:
        assert f"`{alias}`" in CALLFLOWS, f"the alias {alias} is not mentioned"


def _json_examples() -> list[tuple[str, str]]:
    examples = []
    for heading, body in re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", CALLFLOWS, re.M | re.S):
        examples += [(heading, block) for block in re.findall(r"```json\n(.*?)```", body, re.S)]
    return examples


def test_every_module_section_has_an_example_that_uses_it() -> None:
    documented = {heading for heading, _ in _json_examples()}
    assert {m.name for m in MODULES.values()} <= documented


@pytest.mark.parametrize(("module", "example"), _json_examples())
def test_examples_are_valid_callflows(module: str, example: str) -> None:
    doc = json.loads(example)
    assert validate_callflow(doc) == []
    assert f'"module": "{module}"' in example


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_docs_are_linked_from_the_readme_and_links_resolve(path: Path) -> None:
    assert f"docs/{path.name}" in (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", path.read_text()):
        assert (DOCS / target).exists(), f"{path.name} links to {target}"


def test_every_file_the_architecture_walk_names_exists() -> None:
    """docs/architecture.md names files in the order a call passes them: a file that moves must move there too."""
    text = (DOCS / "architecture.md").read_text()
    named = set(re.findall(r"`([a-z_]+(?:/[a-z_0-9]+)*\.py)", text)) | {
        f"{room}/" for room in re.findall(r"`([a-z_]+)/`", text)
    }
    assert len(named) > 40
    package = ROOT / "src" / "calltape"

    def exists(name: str) -> bool:
        if "/" not in name:  # a file named within its room, as `transport.py` under `sip/`
            return any(package.rglob(name))
        return (package / name).exists() or (ROOT / name).exists()

    assert [name for name in sorted(named) if not exists(name)] == []
