"""The house stays clean: no import cycles, and no module imports a higher layer.

Layers of ``authgw``, top first (docs/architecture.md "Modules"):
the application factory and the CLI; the views; the request machinery
(bearer check, bulkhead, errors, OpenID client); the domain operations
(admin, accounts, sessions, revocation, audit); the pure modules (tokens,
keys, clock, exceptions, schemas, config, redirects), which know nothing
of Flask's application state.
"""

from __future__ import annotations

import grimp
import pytest

GRAPH = grimp.build_graph("authgw", exclude_type_checking_imports=True)
MODULES = sorted(m for m in GRAPH.modules if m.startswith("authgw"))

#: Modules that know no application state and no request.
PURE = ("authgw.tokens", "authgw.keys", "authgw.clock", "authgw.exceptions", "authgw.schemas", "authgw.config",
        "authgw.redirects")
#: The application's state and the request machinery.
STATEFUL = ("authgw.extension", "authgw.extensions", "authgw.bearer", "authgw.bulkhead", "authgw.errors",
            "authgw.oidc")


def test_there_is_no_import_cycle():
    cycles = sorted({tuple(sorted((module, imported)))
                     for module in MODULES for imported in GRAPH.find_modules_directly_imported_by(module)
                     if imported.startswith("authgw") and GRAPH.chain_exists(importer=imported, imported=module)})
    assert cycles == []


@pytest.mark.parametrize("module", [m for m in MODULES if not m.startswith("authgw.views") and m != "authgw"])
def test_only_the_factory_imports_the_views(module):
    assert not [m for m in GRAPH.find_modules_directly_imported_by(module) if m.startswith("authgw.views")]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_application_state(module):
    if module not in GRAPH.modules:
        pytest.skip(f"{module} does not exist")
    reached = GRAPH.find_upstream_modules(module)
    assert not [m for m in reached if m in STATEFUL or m.startswith("authgw.views")]
