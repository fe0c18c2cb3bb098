"""Who may ask: the Host allowlist, the token, read-only methods and the response headers.

One ASGI middleware checks every request, media and static files included (issue 17,
"Security"): a Host header outside the allowlist gets 400 (a DNS-rebound page names its own
host), a method other than GET/HEAD gets 405 (there are no write endpoints), and when a
token is set, a request without it gets 401. The token is taken from an
`Authorization: Bearer` header (the API), the `archivetag_token` cookie (the browser), or
once as `?token=`: that answers a redirect to the same URL without it, setting the cookie
(HttpOnly, SameSite=Strict), so the secret leaves the address bar and the history. The
cookie holds a digest of the token, not the token (any characters may be in it).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from archivetag.errors import UsageError

COOKIE = "archivetag_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Everything a page needs is served by archivetag itself; nothing runs inline.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()),
           (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY")]


def is_loopback(host: str) -> bool:
    """Whether listening on `host` (a name or an address) keeps the server on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token(setting: str, token_file: Path | None) -> str:
    """The token from --token-file (its first line) or else the `serve.token` setting;
    '' when neither. Raises UsageError for a file that cannot be read or is empty."""
    if token_file is None:
        return setting.strip()
    try:
        token = token_file.read_text(encoding="utf-8").strip().split("\n")[0].strip()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--token-file {token_file} cannot be read: {error.strerror or error}") from None
    if not token:
        raise UsageError(f"--token-file {token_file} is empty")
    return token


def require_token(host: str, token: str) -> None:
    """Raises UsageError (exit 2) when `host` is off loopback and there is no token."""
    if not is_loopback(host) and not token:
        raise UsageError(
            f"serving on {host} (beyond this machine) needs a token: set serve.token in the "
            "config file or ARCHIVETAG_SERVE_TOKEN in the environment, or give --token-file "
            "FILE; or serve on 127.0.0.1")


@dataclass(frozen=True)
class Policy:
    """`hosts`: Host header names accepted (lower case, no port); empty: any (a wildcard
    bind with no names configured, where the token is the guard). `token`: '' for none."""

    hosts: frozenset[str]
    token: str


def policy_for(host: str, token: str, extra_hosts: list[str]) -> Policy:
    """The policy of a server listening on `host`: its own name and the loopback names,
    plus `extra_hosts` (serve.allowed_hosts); any Host for 0.0.0.0/:: without names."""
    wildcard = host in ("0.0.0.0", "::", "")
    names = set() if wildcard else {host.lower().strip("[]"), *LOOPBACK_NAMES}
    names |= {name.lower() for name in extra_hosts}
    if wildcard and extra_hosts:
        names |= set(LOOPBACK_NAMES)
    return Policy(frozenset(names), token)


def _host_name(value: str) -> str:
    """The name in a Host header, without its port: `[::1]:8765` -> `::1`."""
    if value.startswith("["):
        return value[1:value.find("]")].lower()
    return value.rsplit(":", 1)[0].lower() if value.count(":") == 1 else value.lower()


class Guard:
    """ASGI middleware enforcing `policy` on every HTTP request of `app`."""

    def __init__(self, app, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.policy.hosts and _host_name(headers.get("host", "")) not in self.policy.hosts:
            return await _plain(send, 400, "unknown Host header")
        if scope["method"] not in ("GET", "HEAD"):
            return await _plain(send, 405, "archivetag serve only reads", [(b"allow", b"GET, HEAD")])
        if self.policy.token:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            given = dict(query).get("token")
            if given is not None and _same(given, self.policy.token):
                rest = urlencode([(k, v) for k, v in query if k != "token"])
                location = scope.get("root_path", "") + scope["path"] + (f"?{rest}" if rest else "")
                cookie = f"{COOKIE}={_cookie_value(self.policy.token)}; HttpOnly; SameSite=Strict; Path=/"
                return await _plain(send, 303, "signed in", [(b"location", location.encode()),
                                                             (b"set-cookie", cookie.encode())])
            if not self._presented(headers):
                return await _plain(send, 401, "a token is needed: open the address with "
                                    "?token=TOKEN once, or send Authorization: Bearer TOKEN",
                                    [(b"www-authenticate", b"Bearer")])

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
            await send(message)

        await self.app(scope, receive, with_headers)

    def _presented(self, headers: dict[str, str]) -> bool:
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and _same(bearer[7:].strip(), self.policy.token):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header presents nothing
            return False
        return COOKIE in cookie and _same(cookie[COOKIE].value, _cookie_value(self.policy.token))


def _cookie_value(token: str) -> str:
    return hashlib.sha256(b"archivetag serve cookie\0" + token.encode("utf-8")).hexdigest()


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


async def _plain(send, status: int, text: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), *HEADERS, *headers]})
    await send({"type": "http.response.body", "body": text.encode() + b"\n"})
