"""``python -m authgw check-config``: validate the settings before starting.

Prints every problem at once and exits 2, so ``entrypoint.sh`` refuses to
start a misconfigured deployment with a readable message instead of a
traceback from inside a gunicorn worker.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .config import ConfigError, load_settings

#: Flask's instance folder for this package (``create_app`` uses the same).
INSTANCE_PATH = Path(__file__).resolve().parent.parent / "instance"


def main(argv: list[str] | None = None) -> int:
    """Run the command named in ``argv``; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["check-config"]:
        print("usage: python -m authgw check-config", file=sys.stderr)
        return 64
    try:
        settings = load_settings(instance_path=INSTANCE_PATH)
    except ConfigError as exc:
        print("authgw: refusing to start, fix these settings:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    # Without a Google client the dev IdP must run too (compose: --profile dev).
    provider = (f"dev IdP at {settings.oidc_discovery_url.removesuffix('/.well-known/openid-configuration')}, "
                "GOOGLE_CLIENT_ID not set" if settings.uses_dev_idp else settings.oidc_discovery_url)
    print(f"authgw: configuration ok ({settings.app_env}, provider {provider}, {settings.jwt_algorithm})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
