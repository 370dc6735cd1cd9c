"""Who may drive the page's server: the page it served, and nobody else.

A server on 127.0.0.1 is reachable by every web site the user's browser visits: a page elsewhere can send
a form or a `fetch` to it. The Host check (TrustedHostMiddleware) stops DNS rebinding; this module stops
the rest, as local tools that are done right do:

- Origin: a request whose `Origin` is not the server's own is refused; without one, a `Sec-Fetch-Site`
  other than same-origin (or none: a URL the user typed) is refused. A page on another port of
  127.0.0.1 is another origin ("same-site" to the browser), so it is refused too.
- Token: a secret made per server start (`secrets.token_urlsafe`, 256 bits) is written into the page;
  every /api/ request sends it back in the `X-FreeCure-Token` header (images, which an `<img>` loads
  without headers, as `?token=`), compared in constant time. A header that is not "simple" also makes
  the browser ask a preflight that this server never grants to another origin.
- Content types: JSON endpoints take `application/json`, uploads an image type or
  `application/octet-stream`: never the types a cross-site form can send without asking.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

from freecure_edit.errors import FreeCureError

TOKEN_HEADER = "x-freecure-token"
TOKEN_QUERY = "token"
JSON_TYPES = ("application/json",)
UPLOAD_TYPES = ("application/octet-stream", "image/")
# Navigations the user made (a typed URL, a bookmark) and the page's own requests.
ALLOWED_FETCH_SITES = ("same-origin", "none")


class Forbidden(FreeCureError):
    """A request the page did not send (HTTP 403)."""

    exit_code = 2


class Guard:
    def __init__(self, token: str | None = None):
        self.token = token or secrets.token_urlsafe(32)

    def check(self, request: Request, *, content_types: tuple[str, ...] | None = None,
              token_in_query: bool = False) -> None:
        """Refuse (Forbidden) a request from another origin, without the token, or of another content
        type. `token_in_query`: the token may come as ?token= (images loaded by <img> or a download)."""
        self.check_origin(request)
        given = request.headers.get(TOKEN_HEADER)
        if given is None and token_in_query:
            given = request.query_params.get(TOKEN_QUERY)
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise Forbidden("the request does not carry this server's token: only the page it serves may use it "
                            "(reload the page after a restart)")
        if content_types is not None:
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if not any(kind == allowed or (allowed.endswith("/") and kind.startswith(allowed))
                       for allowed in content_types):
                raise Forbidden(f"content type {kind or 'none'!r} is not accepted here; send {', '.join(content_types)}")

    @staticmethod
    def check_origin(request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None:
            own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
            if origin.lower() != own:
                raise Forbidden(f"requests from {origin} are refused: only the page this server serves may use it")
            return
        site = request.headers.get("sec-fetch-site")
        if site is not None and site.lower() not in ALLOWED_FETCH_SITES:
            raise Forbidden(f"a {site} request is refused: only the page this server serves may use it")
