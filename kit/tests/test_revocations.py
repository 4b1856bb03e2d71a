"""RevocationList: the three rules, the trust window, polling, fork safety."""

from __future__ import annotations

import os
import time

import pytest

from authgw_kit import InvalidToken, RevocationList, VerifierUnavailable
from authgw_kit.revocations import RevocationSnapshot

NOW = 1764750000


def claims(**changes):
    out = {"sub": "7", "sid": "sid-1", "iat": NOW, "roles": ["user"]}
    out.update(changes)
    return out


def test_three_rules():
    snap = RevocationSnapshot.parse({"sessions": {"gone": NOW}, "subjects": {"7": NOW + 1, "8": NOW},
                                     "roles": {"support": NOW + 1, "old": NOW - 1}})
    assert snap.refusal(claims(sid="gone"))
    assert snap.refusal(claims())  # subjects["7"] > iat
    assert snap.refusal(claims(sub="8")) is None  # equal is not older
    assert snap.refusal(claims(sub="9", roles=["user", "support"]))
    assert snap.refusal(claims(sub="9", roles=["old"])) is None
    assert snap.refusal(claims(sub="9")) is None


@pytest.mark.parametrize("bad", [None, [], {"sessions": []}, {"sessions": {"a": "1"}}, {"sessions": {"a": True}},
                                 {"sessions": {}, "roles": {"r": None}}])
def test_malformed_snapshot_is_a_failed_poll(bad, monotonic):
    revocations = RevocationList(fetch=lambda: bad, background=False, clock=monotonic)
    assert revocations.refresh_now() is False
    with pytest.raises(VerifierUnavailable):
        revocations.check(claims())


def test_last_snapshot_is_trusted_for_the_trust_window_then_503(feed, monotonic):
    revocations = RevocationList(fetch=feed, background=False, trust_window=60, clock=monotonic)
    revocations.check(claims())
    feed.failing = True
    monotonic.advance(59)
    assert revocations.refresh_now() is False
    revocations.check(claims())
    with pytest.raises(InvalidToken):
        revocations.check(claims(sid="sid-revoked"))  # revocations known before the outage stay honoured
    monotonic.advance(2)
    with pytest.raises(VerifierUnavailable) as caught:
        revocations.check(claims())
    assert caught.value.headers()["Retry-After"] == "5"
    feed.failing = False
    revocations.refresh_now()
    revocations.check(claims())


def test_needs_exactly_one_source():
    with pytest.raises(ValueError):
        RevocationList()
    with pytest.raises(ValueError):
        RevocationList("http://x", fetch=dict)


def test_thread_starts_lazily_and_follows_the_http_feed(http_server, corpus):
    http_server.serve("/rev", corpus["revocations"], headers={"Cache-Control": "no-store"})
    revocations = RevocationList(http_server.url("/rev"), poll_interval=0.1)
    try:
        assert revocations._thread is None and "/rev" not in http_server.hits
        revocations.check(claims())
        assert revocations._thread.is_alive()
        updated = dict(corpus["revocations"], sessions={"sid-1": NOW})
        http_server.serve("/rev", updated)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                revocations.check(claims())
            except InvalidToken:
                break
            time.sleep(0.05)
        else:
            pytest.fail("revocation not seen within 3 s")
    finally:
        revocations.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_worker_starts_its_own_poller(feed):
    revocations = RevocationList(fetch=feed, poll_interval=0.05)
    try:
        revocations.check(claims())  # the parent's thread runs
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: like a gunicorn worker after preload
            try:
                calls = feed.calls
                revocations.check(claims())
                time.sleep(0.3)
                ok = revocations._thread is not None and revocations._thread.is_alive() and feed.calls > calls + 1
                os.write(write_end, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write_end)
        result = os.read(read_end, 1)
        os.waitpid(pid, 0)
        assert result == b"1"
    finally:
        revocations.close()
