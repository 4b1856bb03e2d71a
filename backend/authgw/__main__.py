"""``python -m authgw check-config``: validate the settings before starting.

Prints every problem at once and exits 2, so ``entrypoint.sh`` refuses to
start a misconfigured deployment with a readable message instead of a
traceback from inside a gunicorn worker. It refuses what ``create_app``
refuses: every rule of `authgw.config.load_settings` (which also builds the
rate-limit storage and loads the database driver the app will use), plus an
unusable signing key file (docs/configuration.md, "Checking a configuration").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping

from .config import ConfigError, Settings, load_settings
from .keys import SigningKeyError, load_key_set

#: Flask's instance folder for this package (``create_app`` uses the same).
INSTANCE_PATH = Path(__file__).resolve().parent.parent / "instance"
USAGE = "usage: python -m authgw check-config"


def check_config(environ: Mapping[str, str] | None = None, instance_path: str | os.PathLike = INSTANCE_PATH) -> Settings:
    """Validate the configuration the way ``create_app`` will use it.

    Args:
        environ: variables to read (default ``os.environ``).
        instance_path: the Flask instance folder (development secrets).

    Returns:
        Settings: the validated settings.

    Raises:
        ConfigError: every problem found. An existing signing key file is
            loaded as ``create_app`` loads it (in development a missing one
            is generated at start, so only an existing one is checked).
    """
    settings = load_settings(environ, instance_path)
    if settings.is_production or settings.jwt_private_key_file.exists():
        try:
            load_key_set(settings.jwt_private_key_file, settings.jwt_algorithm)
        except SigningKeyError as exc:
            raise ConfigError([f"JWT_PRIVATE_KEY_FILE is unusable: {exc}"]) from None
    return settings


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command named in ``argv``; return the exit status (0 ok, 2 bad settings, 64 usage)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["check-config"]:
        print(USAGE, file=sys.stderr)
        return 64
    try:
        settings = check_config(environ)
    except ConfigError as exc:
        print("authgw: refusing to start, fix these settings:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    # Without a Google client the dev IdP must run too (compose: --profile dev).
    provider = (f"dev IdP at {settings.oidc_discovery_url.removesuffix('/.well-known/openid-configuration')}, "
                "GOOGLE_CLIENT_ID not set" if settings.uses_dev_idp else settings.oidc_discovery_url)
    storage = settings.ratelimit_storage_uri.partition("://")[0]
    print(f"authgw: configuration ok ({settings.app_env}, provider {provider}, {settings.jwt_algorithm}, "
          f"rate limits in {storage}, logs {settings.log_format}, "
          f"metrics {settings.metrics_bind or 'off'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
