"""README's settings table is generated from ``engine.spec.settings.Settings``; GOVOPS_REGENERATE=1 rewrites it.

The table between ``<!-- settings:begin -->`` and ``<!-- settings:end -->`` is one row per field
(variable, default, docstring), so a setting added to the class without README, or a README row
for a setting that is gone, fails here.
"""

from __future__ import annotations

import os
import re

import pytest

from engine.spec.errors import InputError
from engine.spec.settings import Settings, get_settings, settings_table_markdown
from tests.conftest import PROJECT

README = PROJECT / "README.md"
BEGIN, END = "<!-- settings:begin -->\n", "<!-- settings:end -->"


def test_readme_settings_table_is_generated_from_the_class():
    text = README.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1, "README.md needs the settings markers once each"
    head, rest = text.split(BEGIN)
    current, tail = rest.split(END)
    fresh = settings_table_markdown()
    if os.environ.get("GOVOPS_REGENERATE") and current != fresh:
        README.write_text(head + BEGIN + fresh + END + tail)
        current = fresh
    assert current == fresh, "README.md's settings table drifted from engine/spec/settings.py: GOVOPS_REGENERATE=1"


def test_every_setting_has_a_docstring_and_every_row_a_setting():
    assert all((f.description or "").strip() for f in Settings.model_fields.values())
    rows = re.findall(r"^\| `(GOVOPS_\w+)` \|", settings_table_markdown(), re.M)
    assert rows == [f"GOVOPS_{name.upper()}" for name in Settings.model_fields]


def test_settings_are_read_per_call_and_bad_values_name_their_variable(monkeypatch):
    monkeypatch.setenv("GOVOPS_LOG_DIR", "/a")
    assert get_settings().log_dir == "/a"
    monkeypatch.setenv("GOVOPS_LOG_DIR", "/b")
    assert get_settings().log_dir == "/b"
    monkeypatch.setenv("GOVOPS_LOG_DIR", "")
    assert get_settings().log_dir is None  # empty means unset, as where it was read on its own before
    assert get_settings({"GOVOPS_RUN_URL": "https://x"}).run_url == "https://x"  # a given mapping only
    assert get_settings({}).log_dir is None
    monkeypatch.setenv("GOVOPS_OPA_TIMEOUT_S", "soon")
    with pytest.raises(InputError, match="^GOVOPS_OPA_TIMEOUT_S: "):
        get_settings()
