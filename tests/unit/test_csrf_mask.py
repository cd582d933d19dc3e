"""The CSRF token as pages carry it: masked afresh each time, and taken back in any mask
(guardian/web/csrf.py; docs/access.md "CSRF")."""

from __future__ import annotations

import secrets

import pytest

from guardian.web import csrf


# the two kinds of token: a user session's (token_urlsafe(32)) and a patient's (token_hex(16))
@pytest.mark.parametrize("token", ["Zq3-8vJc_1xN0aB4kLmP9rS2tU5wY7eH6gD0fA1iK3o",
                                   "0f1e2d3c4b5a69788796a5b4c3d2e1f0"])
def test_every_mask_differs_and_each_gives_the_token_back(token):
    masks = {csrf.mask(token) for _ in range(20)}
    assert len(masks) == 20  # a fresh pad every time
    for masked in masks:
        assert token not in masked
        assert csrf.unmask(masked) == token.encode()
        assert csrf.matches(masked, token)
    assert csrf.matches(token, token)  # the token itself (an API client's copy) still does


@pytest.mark.parametrize("sent", [
    "", "x", "forged", "====", "é" * 10, None, 42, "another-token-of-the-same-length",
])
def test_anything_else_is_refused(sent):
    assert not csrf.matches(sent, "the-session-token-its-own-length")
    if isinstance(sent, str) and sent:  # nor any mask of another token
        assert not csrf.matches(csrf.mask(sent), "the-session-token-its-own-length")


def test_a_mask_changed_by_one_character_or_cut_short_is_refused():
    token = secrets.token_urlsafe(32)
    masked = csrf.mask(token)
    changed = masked[:10] + ("A" if masked[10] != "A" else "B") + masked[11:]
    for sent in (changed, masked[:-1], masked[:-4], masked + "x", masked + masked):
        assert not csrf.matches(sent, token)


def test_no_expected_token_matches_nothing():
    assert not csrf.matches(csrf.mask("t"), "")
    assert not csrf.matches("", "")
    assert not csrf.matches("t", None)
