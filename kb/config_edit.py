"""Changing settings in a config file from kb itself (the TUI saves the theme chosen there).

The file is edited with tomlkit, so the user's comments, blank lines and key order stay as
written: an existing key is replaced in place, a missing key is added after the section's last
key, a missing section is appended.  The result is checked like any config file
(:func:`kb.settings.read_config_file`) before it replaces the old one, atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from kb.models.lock_edit import set_key
from kb.settings import SECTIONS, SettingsError, read_config_file


def set_config_values(path: Path, section: str, values: Mapping[str, str]) -> None:
    """Set ``[section] key = value`` for each of ``values`` in the config file at ``path``
    (created when missing).  Raises :class:`SettingsError` naming the file when it is not
    valid TOML or cannot be written."""
    if section not in SECTIONS:
        raise SettingsError(f"unknown section [{section}] (sections: {', '.join(SECTIONS)})")
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        doc = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise SettingsError(f"{path}: cannot update the config file: {exc}") from exc
    if section not in doc:
        doc.add(section, tomlkit.table())
    for key, value in values.items():
        doc = set_key(doc, [section], key, value)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
        read_config_file(tmp)  # what kb reads next time must still load
        os.replace(tmp, path)
    except OSError as exc:
        raise SettingsError(f"{path}: cannot write the config file: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
