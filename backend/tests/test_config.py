"""Configuration: production refuses to start when a setting is wrong, and says which."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from authgw import __main__ as authgw_main
from authgw import create_app
from authgw.config import ConfigError, Environment, load_settings
from authgw.keys import SigningKeyError

from .conftest import write_ec_key

STRONG_SECRET = "k3J9x-QzP0vN7aLr2Yt8WmE5uBcH6dFgS1oIjKlMnOp"


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "signing.pem"
    write_ec_key(path)
    return path


@pytest.fixture
def production_env(tmp_path, key_file):
    """A complete, valid production environment; tests remove or spoil one thing."""
    return {
        "APP_ENV": "production",
        "PUBLIC_URL": "https://auth.example.test",
        "DATABASE_URL": "mysql+pymysql://app:pw@db:3306/auth?charset=utf8mb4",
        "SECRET_KEY": STRONG_SECRET,
        "GOOGLE_CLIENT_ID": "123.apps.googleusercontent.com",
        "GOOGLE_CLIENT_SECRET": "google-secret",
        "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json"),
        "JWT_PRIVATE_KEY_FILE": str(key_file),
    }


def problems_of(env, tmp_path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(env, tmp_path / "instance")
    return caught.value.problems


def test_complete_production_configuration_is_accepted(production_env, tmp_path):
    settings = load_settings(production_env, tmp_path / "instance")
    assert settings.is_production
    assert not settings.uses_dev_idp
    assert settings.redirect_uri == "https://auth.example.test/api/auth/callback"
    assert settings.secure_cookies


def test_production_refuses_to_start_without_secret_key(production_env, tmp_path):
    del production_env["SECRET_KEY"]
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "SECRET_KEY" in problems[0]


@pytest.mark.parametrize("weak", ["changeme", "dev", "secret", "short-but-random-x7", "a" * 31])
def test_production_refuses_a_weak_secret_key(production_env, tmp_path, weak):
    production_env["SECRET_KEY"] = weak
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "SECRET_KEY" in problems[0]


def test_production_refuses_the_dev_idp(production_env, tmp_path):
    del production_env["GOOGLE_CLIENT_ID"]
    del production_env["GOOGLE_CLIENT_SECRET"]
    problems = problems_of(production_env, tmp_path)
    assert any("GOOGLE_CLIENT_ID" in p and "dev IdP" in p for p in problems)


def test_production_refuses_a_client_id_without_secret(production_env, tmp_path):
    del production_env["GOOGLE_CLIENT_SECRET"]
    problems = problems_of(production_env, tmp_path)
    assert any("GOOGLE_CLIENT_SECRET" in p for p in problems)


def test_production_refuses_to_start_without_signing_key_file(production_env, tmp_path):
    del production_env["JWT_PRIVATE_KEY_FILE"]
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "JWT_PRIVATE_KEY_FILE" in problems[0]
    assert not (tmp_path / "instance" / "jwt-signing-key.pem").exists()


def test_signing_key_file_that_does_not_exist_is_refused(production_env, tmp_path):
    production_env["JWT_PRIVATE_KEY_FILE"] = str(tmp_path / "missing.pem")
    problems = problems_of(production_env, tmp_path)
    assert any("JWT_PRIVATE_KEY_FILE" in p for p in problems)


def test_production_refuses_to_start_without_database_url(production_env, tmp_path):
    del production_env["DATABASE_URL"]
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "DATABASE_URL" in problems[0]


def test_database_password_file_supplies_the_password_of_database_url(production_env, tmp_path):
    # As compose runs it: DATABASE_URL without a password, the password in
    # the file db-init generated (any characters; a trailing newline is not
    # part of it).
    password_file = tmp_path / "mysql-password"
    password_file.write_text("p@ss:w/o%rd#?\n", encoding="utf-8")
    production_env.update(DATABASE_URL="mysql+pymysql://app@db:3306/auth?charset=utf8mb4",
                          DATABASE_PASSWORD_FILE=str(password_file))
    url = make_url(load_settings(production_env, tmp_path / "instance").database_url)
    assert url.password == "p@ss:w/o%rd#?"
    assert (url.drivername, url.username, url.host, url.port, url.database) == ("mysql+pymysql", "app", "db", 3306, "auth")
    assert url.query == {"charset": "utf8mb4"}


def test_database_password_file_wins_over_the_password_in_database_url(production_env, tmp_path):
    password_file = tmp_path / "mysql-password"
    password_file.write_text("from-file", encoding="utf-8")
    production_env["DATABASE_PASSWORD_FILE"] = str(password_file)
    assert make_url(load_settings(production_env, tmp_path / "instance").database_url).password == "from-file"


def test_without_database_password_file_database_url_is_used_as_is(production_env, tmp_path):
    settings = load_settings(production_env, tmp_path / "instance")
    assert settings.database_url == production_env["DATABASE_URL"]


@pytest.mark.parametrize("case", ["missing", "empty", "only a newline", "a folder", "not text"])
def test_unusable_database_password_file_is_refused_naming_it(production_env, tmp_path, case):
    path = tmp_path / "mysql-password"
    if case == "empty":
        path.write_text("", encoding="utf-8")
    elif case == "only a newline":
        path.write_text("\n", encoding="utf-8")
    elif case == "a folder":
        path.mkdir()
    elif case == "not text":
        path.write_bytes(b"\xff\xfe\x00")
    production_env["DATABASE_PASSWORD_FILE"] = str(path)
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "DATABASE_PASSWORD_FILE" in problems[0] and str(path) in problems[0]


def test_a_database_url_that_does_not_parse_is_reported_once_with_a_password_file(production_env, tmp_path):
    password_file = tmp_path / "mysql-password"
    password_file.write_text("from-file", encoding="utf-8")
    production_env["DATABASE_PASSWORD_FILE"] = str(password_file)
    production_env["DATABASE_URL"] = "not a url"
    problems = [p for p in problems_of(production_env, tmp_path) if p.startswith("DATABASE_")]
    assert problems == ["DATABASE_URL is not a SQLAlchemy URL (e.g. mysql+pymysql://app@db:3306/auth?charset=utf8mb4)"]


def test_database_password_file_is_reported_along_with_every_other_problem(production_env, tmp_path):
    production_env["DATABASE_PASSWORD_FILE"] = str(tmp_path / "absent")
    del production_env["SECRET_KEY"]
    text = "\n".join(problems_of(production_env, tmp_path))
    assert "DATABASE_PASSWORD_FILE" in text and "SECRET_KEY" in text


def test_production_still_requires_database_url_with_a_password_file(production_env, tmp_path):
    password_file = tmp_path / "mysql-password"
    password_file.write_text("pw", encoding="utf-8")
    production_env["DATABASE_PASSWORD_FILE"] = str(password_file)
    del production_env["DATABASE_URL"]
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "DATABASE_URL is required" in problems[0]


def test_database_password_file_without_database_url_is_refused_outside_production(tmp_path):
    # The file fills in DATABASE_URL's password; it makes no sense for the
    # SQLite default, and silently ignoring it would hide a typo.
    password_file = tmp_path / "mysql-password"
    password_file.write_text("pw", encoding="utf-8")
    env = {"APP_ENV": "development", "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json"),
           "DATABASE_PASSWORD_FILE": str(password_file)}
    problems = problems_of(env, tmp_path)
    assert len(problems) == 1 and "DATABASE_PASSWORD_FILE" in problems[0] and "DATABASE_URL" in problems[0]


def test_database_url_that_is_not_a_url_is_refused_with_a_password_file(production_env, tmp_path):
    password_file = tmp_path / "mysql-password"
    password_file.write_text("pw", encoding="utf-8")
    production_env.update(DATABASE_URL="db:3306/auth", DATABASE_PASSWORD_FILE=str(password_file))
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "DATABASE_URL" in problems[0]


def test_create_app_connects_with_the_password_from_the_file(make_app, tmp_path):
    # End to end through create_app: the engine gets the rewritten URL.
    password_file = tmp_path / "mysql-password"
    password_file.write_text("s3cret", encoding="utf-8")
    app = make_app(DATABASE_URL="mysql+pymysql://app@db.invalid:3306/auth?charset=utf8mb4",
                   DATABASE_PASSWORD_FILE=password_file)
    assert make_url(app.config["SQLALCHEMY_DATABASE_URI"]).password == "s3cret"


def test_every_production_problem_is_reported_at_once(tmp_path):
    env = {"APP_ENV": "production", "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json"),
           "ACCESS_TOKEN_TTL": "soon"}
    text = "\n".join(problems_of(env, tmp_path))
    for variable in ("SECRET_KEY", "GOOGLE_CLIENT_ID", "JWT_PRIVATE_KEY_FILE", "DATABASE_URL", "ACCESS_TOKEN_TTL"):
        assert variable in text
    # The exception's message lists them too (what an operator sees in the log).
    with pytest.raises(ConfigError) as caught:
        load_settings(env, tmp_path)
    assert all(variable in str(caught.value) for variable in ("SECRET_KEY", "DATABASE_URL", "JWT_PRIVATE_KEY_FILE"))


def test_create_app_refuses_to_start_with_bad_production_settings(tmp_path):
    with pytest.raises(ConfigError):
        create_app({"APP_ENV": "production", "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json")})


@pytest.mark.parametrize("name, value", [
    ("ACCESS_TOKEN_TTL", "abc"),
    ("ACCESS_TOKEN_TTL", "0"),
    ("ACCESS_TOKEN_TTL", "-5"),
    ("ACCESS_TOKEN_TTL", "1.5"),
    ("REFRESH_TOKEN_TTL", "1e6"),
    ("REFRESH_TOKEN_TTL", "10"),
    ("REFRESH_GRACE_SECONDS", "11"),
    ("REFRESH_GRACE_SECONDS", "-1"),
    ("TRUSTED_PROXY_COUNT", "many"),
])
def test_bad_numbers_are_refused_naming_the_variable(production_env, tmp_path, name, value):
    production_env[name] = value
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and name in problems[0]


def test_bad_numbers_are_refused_outside_production_too(tmp_path):
    env = {"APP_ENV": "development", "ACCESS_TOKEN_TTL": "x", "REFRESH_TOKEN_TTL": "y", "SECRET_KEY": "s",
           "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json")}
    text = "\n".join(problems_of(env, tmp_path))
    assert "ACCESS_TOKEN_TTL" in text and "REFRESH_TOKEN_TTL" in text


def test_token_lifetimes_default_to_the_contract_values(production_env, tmp_path):
    settings = load_settings(production_env, tmp_path)
    assert (settings.access_token_ttl, settings.refresh_token_ttl) == (900, 2592000)
    assert settings.refresh_grace_seconds <= 10
    assert settings.jwt_issuer == "https://auth.example.test"
    assert settings.jwt_audience == "api"


def test_token_lifetimes_are_read_from_the_environment(production_env, tmp_path):
    production_env.update(ACCESS_TOKEN_TTL="300", REFRESH_TOKEN_TTL="86400")
    settings = load_settings(production_env, tmp_path)
    assert (settings.access_token_ttl, settings.refresh_token_ttl) == (300, 86400)


def test_client_id_and_secret_are_read_from_googles_client_secret_file(production_env, tmp_path):
    del production_env["GOOGLE_CLIENT_ID"]
    del production_env["GOOGLE_CLIENT_SECRET"]
    secret_file = tmp_path / "client-secret.json"
    secret_file.write_text(json.dumps({"web": {
        "client_id": "987.apps.googleusercontent.com", "client_secret": "from-file",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "redirect_uris": ["https://auth.example.test/api/auth/callback"],
    }}))
    production_env["GOOGLE_CLIENT_SECRET_FILE"] = str(secret_file)
    settings = load_settings(production_env, tmp_path)
    assert (settings.oidc_client_id, settings.oidc_client_secret) == ("987.apps.googleusercontent.com", "from-file")
    assert not settings.uses_dev_idp


def test_client_secret_file_that_is_not_json_is_reported(production_env, tmp_path):
    secret_file = tmp_path / "client-secret.json"
    secret_file.write_text("{not json")
    production_env["GOOGLE_CLIENT_SECRET_FILE"] = str(secret_file)
    del production_env["GOOGLE_CLIENT_SECRET"]
    problems = problems_of(production_env, tmp_path)
    assert any("GOOGLE_CLIENT_SECRET_FILE" in p for p in problems)


def test_client_secret_file_without_web_section_is_reported(production_env, tmp_path):
    secret_file = tmp_path / "client-secret.json"
    secret_file.write_text(json.dumps({"client_id": "x", "client_secret": "y"}))
    production_env["GOOGLE_CLIENT_SECRET_FILE"] = str(secret_file)
    del production_env["GOOGLE_CLIENT_ID"]
    del production_env["GOOGLE_CLIENT_SECRET"]
    problems = problems_of(production_env, tmp_path)
    assert any("GOOGLE_CLIENT_SECRET_FILE" in p and "web" in p for p in problems)


def test_unknown_app_env_is_refused_and_judged_as_production(tmp_path):
    env = {"APP_ENV": "prod", "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json")}
    text = "\n".join(problems_of(env, tmp_path))
    assert "APP_ENV" in text
    assert "SECRET_KEY" in text  # the strictest rules applied to the rest


@pytest.mark.parametrize("name, value", [("PUBLIC_URL", "localhost:8080"), ("JWT_ALGORITHM", "HS256"),
                                         ("GOOGLE_DISCOVERY_URL", "ftp://idp.example.test")])
def test_malformed_settings_are_refused(production_env, tmp_path, name, value):
    production_env[name] = value
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and name in problems[0]


def test_development_without_google_client_uses_the_dev_idp(tmp_path):
    env = {"APP_ENV": "development", "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json")}
    settings = load_settings(env, tmp_path / "instance")
    assert settings.uses_dev_idp
    assert settings.oidc_discovery_url.endswith("/.well-known/openid-configuration")


def test_development_secret_key_is_random_per_instance_not_a_fixed_fallback(tmp_path):
    env = {"APP_ENV": "development", "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json")}
    first = load_settings(env, tmp_path / "a").secret_key
    again = load_settings(env, tmp_path / "a").secret_key
    other = load_settings(env, tmp_path / "b").secret_key
    assert first == again  # every worker of one instance signs with the same key
    assert first != other
    assert len(first) >= 32


def test_signing_key_not_matching_jwt_algorithm_is_refused(make_app):
    with pytest.raises(SigningKeyError):
        make_app(JWT_ALGORITHM="RS256")


# -- turn 2: the declarative schema, check-config, new settings ---------------

REPO = Path(__file__).resolve().parents[2]


def dev_env(tmp_path, **overrides):
    env = {"APP_ENV": "development", "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json")}
    env.update(overrides)
    return env


@pytest.mark.parametrize("url", ["http://auth.example.test", "http://10.0.0.5:8080", "http://localhost.example.test"])
def test_production_refuses_an_http_public_url_other_than_localhost(production_env, tmp_path, url):
    production_env["PUBLIC_URL"] = url
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "PUBLIC_URL" in problems[0] and "https" in problems[0]


@pytest.mark.parametrize("url", ["http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", "https://auth.example.test"])
def test_production_accepts_https_or_a_loopback_http_public_url(production_env, tmp_path, url):
    production_env["PUBLIC_URL"] = url
    assert load_settings(production_env, tmp_path).public_url == url


def test_http_public_url_is_fine_outside_production(tmp_path):
    settings = load_settings(dev_env(tmp_path, PUBLIC_URL="http://auth.example.test"), tmp_path / "instance")
    assert not settings.secure_cookies


def test_turn_two_settings_have_their_documented_defaults(production_env, tmp_path):
    settings = load_settings(production_env, tmp_path)
    assert settings.revocation_poll_interval == 1.0
    assert settings.revocation_trust_window == 60
    assert (settings.database_connect_timeout, settings.database_read_timeout,
            settings.database_write_timeout, settings.database_pool_timeout) == (1, 1, 1, 2)
    assert (settings.database_pool_size, settings.database_max_overflow) == (5, 10)
    assert settings.db_concurrency == 3  # GUNICORN_THREADS (4) - 1: one thread stays free for token-only routes
    assert (settings.redis_socket_timeout, settings.redis_connect_timeout) == (1, 1)
    assert settings.oidc_http_timeout == 5
    assert settings.password_login is False
    assert settings.client_credentials_token_ttl == 600
    assert settings.log_format == "json"
    assert settings.metrics_bind == "127.0.0.1:9100" and settings.metrics_address == ("127.0.0.1", 9100)


def test_logs_are_json_lines_unless_readable_text_is_asked_for(tmp_path):
    assert load_settings(dev_env(tmp_path), tmp_path / "instance").log_format == "json"
    assert load_settings(dev_env(tmp_path, LOG_FORMAT="Console"), tmp_path / "instance").log_format == "console"


def test_turn_two_settings_are_read_from_the_environment(production_env, tmp_path):
    production_env.update(REVOCATION_POLL_INTERVAL="0.5", REVOCATION_TRUST_WINDOW="120", DATABASE_POOL_SIZE="8",
                          DATABASE_MAX_OVERFLOW="2", DB_CONCURRENCY="6", DATABASE_READ_TIMEOUT="1.5",
                          OIDC_HTTP_TIMEOUT="10", PASSWORD_LOGIN="on", CLIENT_CREDENTIALS_TOKEN_TTL="300",
                          LOG_FORMAT="console", METRICS_BIND="[::1]:9200", REDIS_SOCKET_TIMEOUT="0.25")
    settings = load_settings(production_env, tmp_path)
    assert (settings.revocation_poll_interval, settings.revocation_trust_window) == (0.5, 120)
    assert (settings.database_pool_size, settings.database_max_overflow, settings.db_concurrency) == (8, 2, 6)
    assert settings.database_read_timeout == 1.5 and settings.oidc_http_timeout == 10
    assert settings.password_login is True and settings.client_credentials_token_ttl == 300
    assert settings.log_format == "console" and settings.metrics_address == ("::1", 9200)
    assert settings.ratelimit_storage_options == {}  # memory:// takes no socket options
    assert settings.redis_socket_timeout == 0.25


def test_empty_metrics_bind_turns_metrics_off(production_env, tmp_path):
    production_env["METRICS_BIND"] = ""
    settings = load_settings(production_env, tmp_path)
    assert settings.metrics_bind is None and settings.metrics_address is None


def test_client_credentials_tokens_never_outlive_access_tokens_by_default(production_env, tmp_path):
    production_env["ACCESS_TOKEN_TTL"] = "300"
    assert load_settings(production_env, tmp_path).client_credentials_token_ttl == 300


@pytest.mark.parametrize("name, value", [
    ("OIDC_HTTP_TIMEOUT", "11"),
    ("OIDC_HTTP_TIMEOUT", "0"),
    ("OIDC_HTTP_TIMEOUT", "nan"),
    ("REVOCATION_TRUST_WINDOW", "4"),
    ("REVOCATION_POLL_INTERVAL", "0"),
    ("DATABASE_CONNECT_TIMEOUT", "-1"),
    ("DATABASE_READ_TIMEOUT", "inf"),
    ("DATABASE_WRITE_TIMEOUT", "slow"),
    ("DATABASE_POOL_TIMEOUT", "0"),
    ("DATABASE_POOL_SIZE", "0"),
    ("DATABASE_MAX_OVERFLOW", "-1"),
    ("DB_CONCURRENCY", "0"),
    ("DB_CONCURRENCY", "16"),
    ("REDIS_SOCKET_TIMEOUT", "0"),
    ("REDIS_CONNECT_TIMEOUT", "x"),
    ("PASSWORD_LOGIN", "maybe"),
    ("CLIENT_CREDENTIALS_TOKEN_TTL", "901"),
    ("CLIENT_CREDENTIALS_TOKEN_TTL", "10"),
    ("LOG_FORMAT", "xml"),
    ("LOG_LEVEL", "chatty"),
    ("METRICS_BIND", "9100"),
    ("METRICS_BIND", "127.0.0.1:99999"),
    ("RATELIMIT_ENABLED", "perhaps"),
    ("RATELIMIT_LOGIN", "lots"),
    ("RATELIMIT_REFRESH", "30 per fortnight"),
    ("ALLOWED_EMAILS", None),
])
def test_bad_turn_two_values_are_refused_naming_the_variable(production_env, tmp_path, name, value):
    if value is None:  # a list is never JSON-decoded: commas separate, nothing else
        production_env[name] = '["a@example.test"]'
        assert load_settings(production_env, tmp_path).allowed_emails == {'["a@example.test"]'}
        return
    production_env[name] = value
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and name in problems[0], problems


def test_poll_interval_must_be_shorter_than_the_trust_window(production_env, tmp_path):
    production_env.update(REVOCATION_POLL_INTERVAL="10", REVOCATION_TRUST_WINDOW="10")
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "REVOCATION_POLL_INTERVAL" in problems[0] and "REVOCATION_TRUST_WINDOW" in problems[0]


@pytest.mark.parametrize("uri", ["memory://", "redis://127.0.0.1:6379/0", "rediss://redis.example.test:6380/1",
                                 "redis+sentinel://127.0.0.1:26379/authgw"])
def test_supported_rate_limit_storages_are_accepted(production_env, tmp_path, uri):
    production_env["RATELIMIT_STORAGE_URI"] = uri
    settings = load_settings(production_env, tmp_path)
    assert settings.ratelimit_storage_uri == uri
    if uri.startswith("redis"):
        assert settings.ratelimit_storage_options == {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}


@pytest.mark.parametrize("uri", ["memcached://127.0.0.1:11211", "mongodb://db.example.test", "memory",
                                 "sqlite:///x", "redis://127.0.0.1:notaport/0"])
def test_rate_limit_storages_the_app_cannot_build_are_refused(production_env, tmp_path, uri):
    production_env["RATELIMIT_STORAGE_URI"] = uri
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "RATELIMIT_STORAGE_URI" in problems[0], problems


def test_database_url_whose_driver_is_not_installed_is_refused(production_env, tmp_path):
    production_env["DATABASE_URL"] = "postgresql+psycopg://app:pw@db/auth"
    problems = problems_of(production_env, tmp_path)
    assert len(problems) == 1 and "DATABASE_URL" in problems[0] and "pw" not in problems[0]


def test_schema_errors_and_cross_variable_rules_are_reported_together(production_env, tmp_path):
    del production_env["SECRET_KEY"]
    production_env.update(OIDC_HTTP_TIMEOUT="30", DB_CONCURRENCY="99", RATELIMIT_STORAGE_URI="memcached://m:11211",
                          PUBLIC_URL="http://auth.example.test")
    text = "\n".join(problems_of(production_env, tmp_path))
    for variable in ("SECRET_KEY", "OIDC_HTTP_TIMEOUT", "DB_CONCURRENCY", "RATELIMIT_STORAGE_URI", "PUBLIC_URL"):
        assert variable in text


def test_problems_never_repeat_a_secret_value(production_env, tmp_path):
    production_env.update(SECRET_KEY="hunter2-but-short", DATABASE_URL="nope://app:s3cr3t-pw@db/auth")
    text = "\n".join(problems_of(production_env, tmp_path))
    assert "SECRET_KEY" in text and "DATABASE_URL" in text
    assert "hunter2" not in text and "s3cr3t-pw" not in text


def test_settings_repr_leaves_the_secrets_out(production_env, tmp_path):
    text = repr(load_settings(production_env, tmp_path))
    assert STRONG_SECRET not in text and "google-secret" not in text and "pw@db" not in text


def test_engine_options_carry_the_database_timeouts(production_env, tmp_path):
    production_env.update(DATABASE_CONNECT_TIMEOUT="1", DATABASE_READ_TIMEOUT="4", DATABASE_WRITE_TIMEOUT="5",
                          DATABASE_POOL_TIMEOUT="1.5", DATABASE_POOL_SIZE="3", DATABASE_MAX_OVERFLOW="0")
    options = load_settings(production_env, tmp_path).database_engine_options
    assert options["connect_args"] == {"connect_timeout": 1, "read_timeout": 4, "write_timeout": 5}
    assert (options["pool_size"], options["max_overflow"], options["pool_timeout"]) == (3, 0, 1.5)
    assert options["pool_pre_ping"] is True
    assert load_settings(dev_env(tmp_path), tmp_path / "instance").database_engine_options == {}


def test_only_the_declared_variables_are_read(tmp_path):
    asked = []

    class Recording(dict):
        def get(self, key, default=None):
            asked.append(key)
            return super().get(key, default)

    load_settings(Recording(dev_env(tmp_path)), tmp_path / "instance")
    assert set(asked) == set(Environment.variables())


def test_create_app_refuses_what_check_config_refuses(make_app):
    with pytest.raises(ConfigError) as caught:
        make_app(RATELIMIT_STORAGE_URI="memcached://127.0.0.1:11211")
    assert "RATELIMIT_STORAGE_URI" in str(caught.value)


def test_check_config_refuses_a_rate_limit_storage_the_app_cannot_build(production_env, tmp_path, capsys):
    production_env["RATELIMIT_STORAGE_URI"] = "memcached://127.0.0.1:11211"
    assert authgw_main.main(["check-config"], production_env) == 2
    assert "RATELIMIT_STORAGE_URI" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["not a key", "wrong algorithm"])
def test_check_config_refuses_an_unusable_signing_key(production_env, tmp_path, capsys, case):
    if case == "not a key":
        Path(production_env["JWT_PRIVATE_KEY_FILE"]).write_text("hello", encoding="utf-8")
    else:
        production_env["JWT_ALGORITHM"] = "RS256"  # the fixture's key is EC P-256
    assert authgw_main.main(["check-config"], production_env) == 2
    err = capsys.readouterr().err
    assert "JWT_PRIVATE_KEY_FILE" in err and STRONG_SECRET not in err


def test_check_config_accepts_a_complete_production_configuration(production_env, capsys):
    assert authgw_main.main(["check-config"], production_env) == 0
    out = capsys.readouterr().out
    assert "configuration ok" in out and "production" in out and STRONG_SECRET not in out


def test_check_config_lists_every_problem_and_exits_2(tmp_path, capsys):
    env = {"APP_ENV": "production", "GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "absent.json"), "LOG_FORMAT": "xml"}
    assert authgw_main.main(["check-config"], env) == 2
    err = capsys.readouterr().err
    for variable in ("SECRET_KEY", "GOOGLE_CLIENT_ID", "JWT_PRIVATE_KEY_FILE", "DATABASE_URL", "LOG_FORMAT"):
        assert variable in err


def test_check_config_usage(capsys):
    assert authgw_main.main(["check"], {}) == 64
    assert "usage" in capsys.readouterr().err


def test_every_variable_is_documented_in_env_example_and_docs(tmp_path):
    env_example = (REPO / ".env.example").read_text(encoding="utf-8")
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)`", reference, re.MULTILINE))
    for variable in Environment.variables():
        assert re.search(rf"^#? ?{variable}=", env_example, re.MULTILINE), f"{variable} missing in .env.example"
        assert variable in documented, f"{variable} has no row in docs/configuration.md"


def test_docs_state_the_defaults_the_schema_declares():
    """docs/configuration.md is the one page other docs link to for a default: it must match the code."""
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    default_cells = dict(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|", reference, re.MULTILINE))
    checked = 0
    for info in Environment.model_fields.values():
        default = info.default
        if default is None or default == frozenset():
            continue  # computed or empty defaults are described in words
        shown = {True: "on", False: "off"}.get(default) if isinstance(default, bool) else (
            str(default) if isinstance(default, int) else f"{default:g}" if isinstance(default, float) else str(default))
        assert f"`{shown}`" in default_cells[info.validation_alias], (info.validation_alias, shown)
        checked += 1
    assert checked >= 25  # the test checks something
