"""Loads the suite's plugin for ``pytest harness/conformance`` when it is not installed as
the ``asrx`` pytest11 entry point (a source checkout without ``pip install -e .``).

With the entry point installed the plugin is already registered under that name, and
registering the module twice would add every ``--asrx-*`` option twice.
"""

from __future__ import annotations

import pytest

from harness.conformance import plugin


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    if not pluginmanager.has_plugin(plugin.PLUGIN_NAME) and not pluginmanager.is_registered(plugin):
        pluginmanager.register(plugin, plugin.PLUGIN_NAME)
