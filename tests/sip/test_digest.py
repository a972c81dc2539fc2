"""Digest authentication, both sides (RFC 7616 / RFC 8760)."""

from __future__ import annotations

import pytest

from calltape.sip.digest import DigestChallenger, Verdict, answer_challenge, digest_response, parse_auth_header

REALM = "acme.example.com"


def _answer(challenger: DigestChallenger, algorithm: str, password: str, now: float = 0.0, nc: int = 1) -> str:
    challenge = next(c for c in challenger.challenges(REALM, now) if f"algorithm={algorithm}" in c)
    return answer_challenge(challenge, "REGISTER", "sip:acme.example.com", "alice", password, nc=nc)


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_right_password_passes_wrong_fails(algorithm: str) -> None:
    ch = DigestChallenger(b"secret")
    good = parse_auth_header(_answer(ch, algorithm, "pw"))
    assert ch.verify(good, "REGISTER", REALM, "pw", 1.0) is Verdict.OK
    bad = parse_auth_header(_answer(ch, algorithm, "wrong"))
    assert ch.verify(bad, "REGISTER", REALM, "pw", 1.0) is Verdict.FAILED
    assert ch.verify(good, "INVITE", REALM, "pw", 1.0) is Verdict.FAILED  # method is covered by the hash


def test_challenges_offer_sha256_before_md5_with_qop() -> None:
    values = DigestChallenger(b"s").challenges(REALM, 0.0)
    assert ["algorithm=SHA-256" in values[0], "algorithm=MD5" in values[1]] == [True, True]
    assert all('qop="auth"' in v and f'realm="{REALM}"' in v for v in values)


def test_expired_nonce_is_stale_not_failed() -> None:
    ch = DigestChallenger(b"secret", nonce_lifetime=30)
    creds = parse_auth_header(_answer(ch, "SHA-256", "pw", now=0.0))
    assert ch.verify(creds, "REGISTER", REALM, "pw", 31.0) is Verdict.STALE
    assert "stale=true" in ch.challenges(REALM, 31.0, stale=True)[0]


def test_nonce_count_replay_refused() -> None:
    ch = DigestChallenger(b"secret")
    challenge = ch.challenges(REALM, 0.0)[0]
    first = parse_auth_header(answer_challenge(challenge, "REGISTER", "sip:x", "alice", "pw", nc=1))
    assert ch.verify(first, "REGISTER", REALM, "pw", 1.0) is Verdict.OK
    assert ch.verify(first, "REGISTER", REALM, "pw", 2.0) is Verdict.FAILED  # same nc again
    second = parse_auth_header(answer_challenge(challenge, "REGISTER", "sip:x", "alice", "pw", nc=2))
    assert ch.verify(second, "REGISTER", REALM, "pw", 3.0) is Verdict.OK


def test_forged_nonce_and_other_node_secret() -> None:
    ch = DigestChallenger(b"secret")
    other = DigestChallenger(b"other-secret")
    creds = parse_auth_header(_answer(other, "SHA-256", "pw"))
    assert ch.verify(creds, "REGISTER", REALM, "pw", 1.0) is Verdict.FAILED
    shared = DigestChallenger(b"secret")  # a second node with the same secret accepts it
    assert shared.verify(parse_auth_header(_answer(ch, "MD5", "pw")), "REGISTER", REALM, "pw", 1.0) is Verdict.OK


def test_unknown_user_fails() -> None:
    ch = DigestChallenger(b"secret")
    assert ch.verify(parse_auth_header(_answer(ch, "MD5", "pw")), "REGISTER", REALM, None, 1.0) is Verdict.FAILED


def test_rfc2617_md5_vector() -> None:
    # RFC 2617 §3.5 example, recomputed with qop=auth.
    got = digest_response(
        "MD5",
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
        "GET",
        "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "00000001",
        "0a4f113b",
    )
    assert got == "6629fae49393a05397450978507c4ef1"


# RFC 7616 §3.9.1, as printed there (the header folded over lines as in the RFC's figure).
RFC7616_AUTHORIZATION = (
    'Digest username="Mufasa",\r\n'
    '       realm="http-auth@example.org",\r\n'
    '       uri="/dir/index.html",\r\n'
    "       algorithm={algorithm},\r\n"
    '       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r\n'
    "       nc=00000001,\r\n"
    '       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",\r\n'
    "       qop=auth,\r\n"
    '       response="{response}",\r\n'
    '       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ],
)
def test_rfc7616_worked_example_parses_and_hashes_to_the_rfcs_response(algorithm: str, response: str) -> None:
    header = RFC7616_AUTHORIZATION.format(algorithm=algorithm, response=response).replace("\r\n", "")
    credentials = parse_auth_header(header)
    params = credentials.params
    assert credentials.scheme == "Digest" and credentials.username == "Mufasa" and params["qop"] == "auth"
    got = digest_response(
        params["algorithm"],
        credentials.username,
        credentials.realm,
        "Circle of Life",  # RFC 7616 errata 4495: a lower-case "of"
        "GET",
        params["uri"],
        params["nonce"],
        params["nc"],
        params["cnonce"],
    )
    assert got == params["response"] == response
