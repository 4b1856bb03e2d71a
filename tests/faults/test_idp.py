"""The OpenID provider (dev IdP) hung at the callback: 303 /login?error=provider_error within 10 s."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from faultlib import TABLE, User, frozen, timed, wait_for
from stacklib import BASE_URL

PROVIDER_BOUND = 10.0  # seconds (docs/operations.md "Timeouts and fallbacks")


def test_hung_provider_at_the_callback_gives_provider_error_and_sessions_keep_refreshing():
    row = TABLE.row("dev IdP hung at the callback")
    signed_in = User().login()
    arriving = [User() for _ in range(2)]
    callbacks = [user.start_login() for user in arriving]  # code issued, not yet redeemed
    with frozen("idp"):
        for user, url in zip(arriving, callbacks):
            answer = timed(lambda: user.callback(url))
            row.saw(answer)
            assert answer.status == 303, (answer.status, answer.error, answer.response.text[:200] if answer.response else "")
            assert answer.seconds <= PROVIDER_BOUND, f"callback answered after {answer.seconds:.2f} s"
            location = urlsplit(answer.response.headers["Location"])
            assert location.path == "/login" and parse_qs(location.query).get("error") == ["provider_error"], \
                answer.response.headers["Location"]
            assert "access_token" not in location.fragment
            assert user.refresh_cookie is None, "a failed sign-in set a refresh cookie"
        # Sessions opened before need no provider: refresh and protected reads go on.
        refresh = timed(signed_in.refresh)
        row.saw(refresh)
        assert refresh.status == 200 and refresh.seconds <= 1.0, (refresh.status, refresh.seconds)
        assert signed_in.get("/api/me").status_code == 200
        # Starting a sign-in answers within the bound too (a redirect, or an error page).
        start = timed(lambda: User().session.get(f"{BASE_URL}/api/auth/login", allow_redirects=False, timeout=20))
        row.saw(start)
        assert start.seconds <= PROVIDER_BOUND and start.status in (302, 303), (start.status, start.seconds)
        thawed = time.monotonic()

    def signs_in() -> bool:
        try:
            User().login()
        except AssertionError:
            return False
        return True

    back = wait_for(signs_in, timeout=15, interval=0.2)
    assert back is not None, "sign-in did not come back after the provider resumed"
    row.recovered = time.monotonic() - thawed
    assert row.recovered <= 5, f"sign-in came back after {row.recovered:.1f} s"
