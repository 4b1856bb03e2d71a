"""scripts/render-gateway: the routes declaration is validated (every problem
at once) and rendered into an nginx.conf that nginx accepts with the Lua
token check (docs/routes.md, docs/gateway.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gatewaylib import REPO, nginx_test, run_renderer

NOTES = """
[[service]]
name = "notes"
prefix = "/api/notes"
upstreams = ["127.0.0.1:${NOTES_PORT}"]
[service.permissions]
GET = "notes:read"
"*" = "notes:write"
"""

needs_nginx = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")


def problems_of(renderer, env: dict[str, str]) -> list[str]:
    with pytest.raises(renderer.RenderError) as caught:
        renderer.render(env)
    return caught.value.problems


def conf_of(renderer, env: dict[str, str]) -> str:
    return renderer.render(env)[1]["gateway.conf"]


def routes_of(conf: str) -> str:
    """The ``routes`` table given to the check's init, as rendered."""
    init = re.search(r'require\("authgw.gateway"\)\.init\((.*)\)', conf).group(1)
    return init[init.index("routes = "):]


# --- a good declaration --------------------------------------------------------

def test_the_repository_declaration_renders_the_notes_service(renderer, base_env):
    conf = conf_of(renderer, base_env)
    assert re.search(r"upstream service_notes \{\n\s+zone service_notes 64k;\n\s+server 127\.0\.0\.1:28200;", conf)
    assert "location = /api/notes {" in conf and "location ^~ /api/notes/ {" in conf
    # Both locations check the route by name; the route is made once, in init.
    assert conf.count('access_by_lua_block { require("authgw.gateway").check("service:notes") }') == 2
    assert ('["service:notes"] = {permissions = {["GET"] = "notes:read", ["HEAD"] = "notes:read", '
            '["*"] = "notes:write"}, identity = true}') in routes_of(conf)
    # Forwarded unchanged: proxy_pass without a URI part.
    assert "proxy_pass http://service_notes;" in conf
    assert not re.search(r"^[^#]*(@@|\$\{[A-Z])", conf, re.MULTILINE)


def test_notes_upstream_follows_notes_host_and_port(renderer, base_env):
    conf = conf_of(renderer, base_env | {"NOTES_HOST": "notes", "NOTES_PORT": "8200"})
    assert "server notes:8200;" in conf


@needs_nginx
def test_nginx_accepts_the_rendering_with_the_lua_modules(renderer, base_env, tmp_path):
    if not (REPO / "nginx" / "lua" / "authgw" / "gateway.lua").is_file():
        pytest.fail("nginx/lua/authgw/gateway.lua is missing")
    output = tmp_path / "gateway.conf"
    result = run_renderer(output, base_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(output)
    checked = nginx_test(output, tmp_path / "prefix")
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


@needs_nginx
def test_nginx_accepts_two_backends_public_paths_and_identity_off(renderer, base_env, routes_file, tmp_path):
    path = routes_file(NOTES + """
[[service]]
name = "reports"
prefix = "/api/reports"
upstreams = ["127.0.0.1:28301", "127.0.0.1:28302"]
public = ["/api/reports/status", "/api/reports/open/"]
identity_headers = false
max_body_size = "2m"
""")
    env = base_env | {"GATEWAY_ROUTES_FILE": str(path), "BACKEND_UPSTREAMS": "127.0.0.1:28000,127.0.0.1:28010",
                      "JWT_ISSUER": 'https://issuer.example/"quoted"'}
    output = tmp_path / "gateway.conf"
    result = run_renderer(output, env)
    assert result.returncode == 0, result.stderr
    checked = nginx_test(output, tmp_path / "prefix")
    assert checked.returncode == 0, checked.stderr


def test_backend_replicas_from_backend_upstreams(renderer, base_env):
    conf = conf_of(renderer, base_env | {"BACKEND_UPSTREAMS": "127.0.0.1:28000, 127.0.0.1:28010"})
    block = re.search(r"upstream backend \{(.*?)\}", conf, re.DOTALL).group(1)
    assert re.findall(r"server (\S+);", block) == ["127.0.0.1:28000", "127.0.0.1:28010"]
    assert ('revocations_url = {"http://127.0.0.1:28000/api/internal/revocations", '
            '"http://127.0.0.1:28010/api/internal/revocations"}') in conf


def test_backend_defaults_to_backend_port(renderer, base_env):
    block = re.search(r"upstream backend \{(.*?)\}", conf_of(renderer, base_env), re.DOTALL).group(1)
    assert re.findall(r"server (\S+);", block) == ["127.0.0.1:28000"]


def test_identity_headers_off_is_passed_to_the_check(renderer, base_env, routes_file):
    path = routes_file(NOTES.replace('upstreams', 'identity_headers = false\nupstreams'))
    conf = conf_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(path)})
    assert '["*"] = "notes:write"}, identity = false}' in routes_of(conf).split('["service:notes"] = ', 1)[1]


def test_public_paths_get_locations_without_the_check(renderer, base_env, routes_file):
    path = routes_file(NOTES.replace('upstreams', 'public = ["/api/notes/health", "/api/notes/shared/"]\nupstreams'))
    conf = conf_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(path)})
    for location in ("location = /api/notes/health {", "location ^~ /api/notes/shared/ {"):
        block = conf[conf.index(location):].split("\n        }", 1)[0]
        assert "access_by_lua" not in block and "proxy_pass http://service_notes;" in block
    protected = conf[conf.index("location ^~ /api/notes/ {"):].split("\n        }", 1)[0]
    assert "access_by_lua_block" in protected


def test_an_empty_declaration_leaves_only_the_built_in_routes(renderer, base_env, routes_file):
    conf = conf_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(routes_file("# nothing yet\n"))})
    assert "upstream service_" not in conf and "location /api/ {" in conf


def test_a_public_prefix_makes_the_whole_service_public(renderer, base_env, routes_file):
    path = routes_file(NOTES.replace('upstreams', 'public = ["/api/notes/"]\nupstreams'))
    conf = conf_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(path)})
    below = conf[conf.index("location ^~ /api/notes/ {"):].split("\n        }", 1)[0]
    exact = conf[conf.index("location = /api/notes {"):].split("\n        }", 1)[0]
    assert "access_by_lua" not in below and "access_by_lua_block" in exact
    assert conf.count("location ^~ /api/notes/ {") == 1


def test_a_service_without_permissions_needs_only_a_token(renderer, base_env, routes_file):
    path = routes_file('[[service]]\nname = "plain"\nprefix = "/api/plain"\nupstreams = ["127.0.0.1:28300"]\n')
    conf = conf_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(path)})
    assert 'location ^~ /api/plain/ {\n            access_by_lua_block { require("authgw.gateway").check("service:plain") }' in conf
    assert '["service:plain"] = {identity = true}' in routes_of(conf)


def test_the_backend_locations_check_the_backend_route(renderer, base_env, routes_file):
    conf = conf_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(routes_file("# nothing yet\n"))})
    assert routes_of(conf) == 'routes = {["backend"] = {identity = true}}}'
    for location in ("location ^~ /api/auth/ {", "location /api/ {"):
        block = conf[conf.index(location):].split("\n        }", 1)[0]
        assert 'access_by_lua_block { require("authgw.gateway").check("backend") }' in block


def test_variables_with_defaults_and_address_lists_expand(renderer, base_env, routes_file):
    path = routes_file(NOTES.replace('["127.0.0.1:${NOTES_PORT}"]', '["${NOTES_REPLICAS:-127.0.0.1:28201}", "${EXTRA}"]'))
    env = base_env | {"GATEWAY_ROUTES_FILE": str(path), "EXTRA": "10.0.0.7:80,10.0.0.8:80"}
    block = re.search(r"upstream service_notes \{(.*?)\}", conf_of(renderer, env), re.DOTALL).group(1)
    assert re.findall(r"server (\S+);", block) == ["127.0.0.1:28201", "10.0.0.7:80", "10.0.0.8:80"]


def test_upstream_server_params_apply_to_services(renderer, base_env):
    conf = conf_of(renderer, base_env | {"UPSTREAM_SERVER_PARAMS": "max_fails=3"})
    assert "server 127.0.0.1:28200 max_fails=3;" in conf


def test_check_settings_follow_the_environment(renderer, base_env):
    conf = conf_of(renderer, base_env | {"JWT_AUDIENCE": "orders", "REVOCATION_TRUST_WINDOW": "120",
                                         "JWT_ALGORITHM": "rs256"})
    init = re.search(r'require\("authgw.gateway"\)\.init\((.*)\)', conf).group(1)
    assert 'issuer = "http://localhost:28080"' in init and 'audience = "orders"' in init
    assert 'algorithms = {"RS256"}' in init and "trust_window = 120" in init and "poll_interval = 1" in init


def test_metrics_listener_only_when_asked_for(renderer, base_env):
    assert "listen 127.0.0.1:28145;" not in conf_of(renderer, base_env)
    conf = conf_of(renderer, base_env | {"GATEWAY_METRICS_LISTEN": "127.0.0.1:28145"})
    server = conf[conf.index("listen 127.0.0.1:28145;"):].split("\n    }\n", 1)[0]
    assert 'require("authgw.gateway").metrics()' in server


def test_lua_strings_are_escaped(renderer):
    assert renderer.lua_string('a"b\\c\nd') == '"a\\034b\\092c\\010d"'


def test_timeouts_have_documented_defaults(renderer, base_env):
    conf = conf_of(renderer, base_env)
    assert "proxy_connect_timeout 2s;" in conf and "proxy_read_timeout 9s;" in conf


# --- each kind of mistake ---------------------------------------------------------

#: Mistakes made by one edit of NOTES: (name, text replaced, its replacement, part of the expected problem).
EDITS = [
    ("unknown service key", "prefix", 'prefx = "/api/x"\nprefix', "unknown key 'prefx'"),
    ("missing name", 'name = "notes"\n', "", "missing key 'name'"),
    ("missing prefix", 'prefix = "/api/notes"\n', "", "missing key 'prefix'"),
    ("missing upstreams", 'upstreams = ["127.0.0.1:${NOTES_PORT}"]\n', "", "missing key 'upstreams'"),
    ("prefix outside /api", '"/api/notes"', '"/notes"', "prefix '/notes'"),
    ("prefix with trailing slash", '"/api/notes"', '"/api/notes/"', "prefix '/api/notes/'"),
    ("prefix with dot segment", '"/api/notes"', '"/api/x/../admin"', "prefix '/api/x/../admin'"),
    ("prefix /api itself", '"/api/notes"', '"/api"', "prefix '/api'"),
    ("address without port", "127.0.0.1:${NOTES_PORT}", "localhost", "'localhost' is not host:port"),
    ("port zero", "${NOTES_PORT}", "0", "port must be 1-65535"),
    ("port too large", "${NOTES_PORT}", "70000", "port must be 1-65535"),
    ("prefix of the gateway's error pages", '"/api/notes"', '"/api/_gateway"', "shadows the gateway's own /api/_gateway"),
    ("bad IPv4", "127.0.0.1", "300.1.1.1", "300.1.1.1 is not an IPv4 address"),
    ("bad IPv6", "127.0.0.1", "[::zz]", "[::zz] is not an IPv6 address"),
    ("bad host name", "127.0.0.1", "bad_host!", "'bad_host!' is not a host name"),
    ("config injection in address", "127.0.0.1", "a;b", "is not a host name"),
    ("empty upstreams", '["127.0.0.1:${NOTES_PORT}"]', "[]", "upstreams: a non-empty list"),
    ("unset variable", "${NOTES_PORT}", "${NO_SUCH_PORT}", "${NO_SUCH_PORT} is not set"),
    ("permission without action", '"notes:read"', '"notes"', "permissions.GET: 'notes' is not of the form resource:action"),
    ("permission upper case", '"notes:read"', '"Notes:Read"', "is not of the form resource:action"),
    ("permission with two colons", '"notes:read"', '"notes:read:all"', "is not of the form resource:action"),
    ("permission not a string", '"notes:read"', "1", "permissions.GET: 1 is not of the form"),
    ("unknown method", "GET =", "FETCH =", "permissions: 'FETCH' is not a method"),
    ("lower-case method", "GET =", "get =", "permissions: 'get' is not a method"),
    ("permissions without *", '"*" = "notes:write"\n', "", 'say what every other method needs with "*"'),
    ("public path outside the prefix", "upstreams", 'public = ["/api/other/x"]\nupstreams',
     "public path '/api/other/x' is not below the service's prefix /api/notes"),
    ("identity_headers not a boolean", "upstreams", 'identity_headers = "no"\nupstreams', "identity_headers: true or false"),
    ("bad service name", '"notes"', '"Notes Service"', "name 'Notes Service'"),
    ("bad body size", "upstreams", 'max_body_size = "lots"\nupstreams', "max_body_size 'lots'"),
]

#: Mistakes that are not one edit of NOTES: name -> (whole routes file, part of the expected problem).
OTHER_MISTAKES = {
    "unknown top-level key": ("version = 2\n" + NOTES, "unknown key 'version'"),
    "overlapping prefixes": (NOTES + NOTES.replace('"notes"', '"archive"').replace('"/api/notes"', '"/api/notes/archive"'),
                            "prefixes overlap: /api/notes (notes) and /api/notes/archive (archive)"),
    "same prefix twice": (NOTES + NOTES.replace('"notes"', '"other"'),
                         "prefixes overlap: /api/notes (notes) and /api/notes (other)"),
    "same name twice": (NOTES + NOTES.replace('"/api/notes"', '"/api/other"'), "service name 'notes' is declared twice"),
    "not TOML": ("[[service]\nname = ", "not valid TOML"),
    "service not a table array": ('service = "notes"\n', "'service' must be an array of tables"),
}

MISTAKES = {name: (NOTES.replace(old, new), expected) for name, old, new, expected in EDITS} | OTHER_MISTAKES


@pytest.mark.parametrize("text, expected", MISTAKES.values(), ids=MISTAKES.keys())
def test_each_kind_of_mistake_is_refused_and_named(renderer, base_env, routes_file, text, expected):
    assert text != NOTES, "the edit changes nothing"
    path = routes_file(text)
    problems = problems_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(path)})
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith(str(path)) for problem in problems), problems


@pytest.mark.parametrize("reserved", [
    "/api/auth", "/api/admin", "/api/me", "/api/whoami", "/api/ping", "/api/public", "/api/health",
    "/api/internal", "/api/openapi.json", "/api/docs", "/api/metrics",
])
@pytest.mark.parametrize("shape", ["{}", "{}/extra"])
def test_a_prefix_shadowing_the_backend_is_refused(renderer, base_env, routes_file, reserved, shape):
    assert reserved in renderer.BACKEND_PREFIXES
    prefix = shape.format(reserved)
    path = routes_file(NOTES.replace('"/api/notes"', f'"{prefix}"'))
    problems = problems_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(path)})
    assert any(f"shadows the backend's own {reserved}" in problem for problem in problems), problems


def test_a_prefix_sharing_only_letters_with_the_backend_is_fine(renderer, base_env, routes_file):
    path = routes_file(NOTES.replace('"/api/notes"', '"/api/mentions"').replace('"notes"', '"mentions"'))
    assert "location ^~ /api/mentions/ {" in conf_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(path)})


def test_a_missing_routes_file_is_refused(renderer, base_env, tmp_path):
    problems = problems_of(renderer, base_env | {"GATEWAY_ROUTES_FILE": str(tmp_path / "none.toml")})
    assert problems == [f"{tmp_path / 'none.toml'}: no such file (GATEWAY_ROUTES_FILE)"]


ENV_MISTAKES = {
    "read timeout over 10 s": ({"GATEWAY_UPSTREAM_READ_TIMEOUT": "30s"}, "GATEWAY_UPSTREAM_READ_TIMEOUT='30s': at most 10s"),
    "connect timeout not a time": ({"GATEWAY_UPSTREAM_CONNECT_TIMEOUT": "soon"}, "GATEWAY_UPSTREAM_CONNECT_TIMEOUT='soon'"),
    "bad backend address": ({"BACKEND_UPSTREAMS": "127.0.0.1:28000,nowhere"}, "BACKEND_UPSTREAMS: 'nowhere' is not host:port"),
    "bad frontend address": ({"FRONTEND_UPSTREAM": "frontend"}, "FRONTEND_UPSTREAM: 'frontend' is not host:port"),
    "config injection": ({"GATEWAY_LISTEN": "8080; include /etc/passwd"}, "GATEWAY_LISTEN="),
    "bad rate": ({"AUTH_RATE_LIMIT": "fast"}, "AUTH_RATE_LIMIT='fast'"),
    "bad algorithm": ({"JWT_ALGORITHM": "HS256"}, "JWT_ALGORITHM='HS256'"),
    "bad trust window": ({"REVOCATION_TRUST_WINDOW": "-1"}, "REVOCATION_TRUST_WINDOW='-1'"),
    "bad metrics address": ({"GATEWAY_METRICS_LISTEN": "9145"}, "GATEWAY_METRICS_LISTEN: '9145' is not host:port"),
    "metrics on the public listener": ({"GATEWAY_METRICS_LISTEN": "127.0.0.1:28080"}, "must not be the public GATEWAY_LISTEN"),
    "bad real-ip address": ({"GATEWAY_REAL_IP_FROM": "10.0.0.0/8,lb.example"}, "'lb.example' is not an address or CIDR"),
}


@pytest.mark.parametrize("extra, expected", ENV_MISTAKES.values(), ids=ENV_MISTAKES.keys())
def test_bad_settings_are_refused(renderer, base_env, extra, expected):
    problems = problems_of(renderer, base_env | extra)
    assert any(expected in problem for problem in problems), problems


def test_half_a_tls_configuration_is_refused(renderer, base_env, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not really", encoding="utf-8")
    problems = problems_of(renderer, base_env | {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(tmp_path / "none")})
    assert any("TLS needs both TLS_CERT_FILE" in problem for problem in problems), problems


def test_every_problem_is_listed_at_once_and_nothing_is_written(base_env, routes_file, tmp_path):
    path = routes_file("""
[[service]]
name = "notes"
prefix = "/api/admin/notes"
upstreams = ["127.0.0.1"]
colour = "blue"
[service.permissions]
GET = "read"
FETCH = "notes:read"
"*" = "notes:write"

[[service]]
name = "notes"
prefix = "/api/admin"
upstreams = ["127.0.0.1:28201"]
""")
    output = tmp_path / "out" / "gateway.conf"
    result = run_renderer(output, base_env | {"GATEWAY_ROUTES_FILE": str(path), "GATEWAY_UPSTREAM_READ_TIMEOUT": "60s"})
    assert result.returncode == 1
    for expected in ("shadows the backend's own /api/admin", "'127.0.0.1' is not host:port", "unknown key 'colour'",
                     "permissions.GET: 'read' is not of the form resource:action", "'FETCH' is not a method",
                     "GATEWAY_UPSTREAM_READ_TIMEOUT='60s'"):
        assert expected in result.stderr, result.stderr
    assert "problem(s), nothing written" in result.stderr
    assert not output.exists()


def test_cli_writes_the_default_output_under_stack_dir(base_env, tmp_path):
    result = subprocess.run([str(REPO / "scripts" / "render-gateway")], env=base_env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    expected = Path(base_env["STACK_DIR"]) / "nginx" / "gateway.conf"
    assert result.stdout.strip() == str(expected) and expected.is_file()


# --- one error vocabulary -------------------------------------------------------

ERROR_PAGE = re.compile(r"""return (\d{3}) '\{"error":"([a-z_]+)\"""")


@pytest.mark.parametrize("template", ["nginx/gateway.conf.template", "frontend/nginx.conf.template"])
def test_error_pages_use_the_kits_codes(template):
    """A status the kit names (a service's or the backend's own 413, 414,
    431...) has the same ``error`` code in the gateway's and the file
    server's pages (docs/gateway.md "Errors written by the gateway"): a
    client sees one code for one condition whoever answered."""
    from authgw_kit.errors import HTTP_ERROR_CODES

    pages = ERROR_PAGE.findall((REPO / template).read_text())
    assert pages, "no JSON error page found"
    differing = {status: code for status, code in pages
                 if int(status) in HTTP_ERROR_CODES and HTTP_ERROR_CODES[int(status)] != code}
    assert differing == {}, differing
