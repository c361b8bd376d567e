"""Vendor authentication for the API sources, with credentials read from the environment only.

* ``bearer`` (internal systems): ``Authorization: Bearer <FINFLOW_<SOURCE>_API_KEY>``.
* ``stripe``: a secret (``sk_...``) or restricted (``rk_...``) key as a Bearer token; a publishable key (``pk_...``)
  cannot read balance transactions and is refused before any request. ``FINFLOW_STRIPE_ACCOUNT`` (optional) is sent
  as the ``Stripe-Account`` header to read a connected account.
* ``paypal_oauth2``: OAuth2 client credentials. ``POST <base>/v1/oauth2/token`` with the client id and secret as
  basic auth and ``grant_type=client_credentials`` gives a Bearer token valid ``expires_in`` seconds. The token is
  cached per process (per token URL and client id) and fetched again shortly before it expires; a 401 on a data
  request means the server dropped it early, so it is fetched once more and the request repeated once.
* ``adyen``: the report user's API key in the ``X-API-Key`` header, or else its user name and password as basic
  auth (``FINFLOW_ADYEN_USERNAME`` / ``FINFLOW_ADYEN_PASSWORD``).

A refused credential is never retried beyond that one token refresh: the client raises ``ApiAuthError`` naming the
source and the variables to check. Secret values (and fetched tokens) are scrubbed from every message.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from typing import TYPE_CHECKING

from ..registry import AuthSpec

if TYPE_CHECKING:
    from .http import ApiClient

PAYPAL_TOKEN_PATH = "/v1/oauth2/token"


class Credentials:
    """What an :class:`~.http.ApiClient` sends to authenticate; subclasses per scheme."""

    def __init__(self, source: str, hint: str, secrets: list[str]) -> None:
        self.source = source
        self.hint = hint  # the environment variables to check, for messages
        self._secrets = [secret for secret in secrets if secret]

    def headers(self, client: ApiClient) -> dict[str, str]:
        raise NotImplementedError

    def refresh(self, client: ApiClient) -> bool:
        """After a 401: get a fresh credential and say whether repeating the request once may help."""
        return False

    def secrets(self) -> list[str]:
        """Every secret value these credentials know, to scrub from messages."""
        return list(self._secrets)


class StaticHeaders(Credentials):
    """Fixed headers: a Bearer key, a Stripe key (+ account), an Adyen API key or basic auth."""

    def __init__(self, source: str, hint: str, headers: dict[str, str], secrets: list[str]) -> None:
        super().__init__(source, hint, secrets + [headers.get("Authorization", "")])
        self._headers = headers

    def headers(self, client: ApiClient) -> dict[str, str]:
        return dict(self._headers)


# (token URL, client id) -> (access token, unix time it expires); shared by the clients of one process
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


class PayPalOAuth2(Credentials):
    """OAuth2 client credentials with a cached, refreshed access token."""

    def __init__(self, source: str, hint: str, client_id: str, client_secret: str) -> None:
        super().__init__(source, hint, [client_secret])
        self._client_id = client_id
        self._basic = _basic(client_id, client_secret)
        self._token: str | None = None  # the token sent last
        self._fresh: str | None = None  # a token fetched by refresh(), for the repeated request

    def _key(self, client: ApiClient) -> tuple[str, str]:
        return (client.base_url + PAYPAL_TOKEN_PATH, self._client_id)

    def headers(self, client: ApiClient) -> dict[str, str]:
        token, self._fresh = self._fresh, None
        if token is None:
            with _TOKENS_LOCK:
                cached = _TOKENS.get(self._key(client))
            token = cached[0] if cached is not None and cached[1] > time.time() else self._fetch(client)
        self._token = token
        return {"Authorization": f"Bearer {token}"}

    def refresh(self, client: ApiClient) -> bool:
        with _TOKENS_LOCK:
            cached = _TOKENS.get(self._key(client))
            if cached is not None and cached[0] == self._token:
                del _TOKENS[self._key(client)]  # the server refused it: never send it again
        self._fresh = self._fetch(client)  # the repeated request uses it whatever its announced lifetime
        return True

    def _fetch(self, client: ApiClient) -> str:
        document = client.post_form(
            PAYPAL_TOKEN_PATH,
            {"grant_type": "client_credentials"},
            headers={"Authorization": self._basic, "Accept": "application/json"},
        )
        token = document.get("access_token") if isinstance(document, dict) else None
        if not isinstance(token, str) or not token:
            from .http import ApiError

            raise ApiError(self.source, client.base_url + PAYPAL_TOKEN_PATH, "token response has no access_token")
        lifetime = float(document.get("expires_in") or 0)
        # renew a little early (10% of the lifetime, at most a minute) so a token never expires mid-request
        expires = time.time() + lifetime - min(60.0, lifetime * 0.1)
        self._secrets.append(token)
        with _TOKENS_LOCK:
            _TOKENS[self._key(client)] = (token, expires)
        return token

    def secrets(self) -> list[str]:
        with _TOKENS_LOCK:
            tokens = [token for token, _ in _TOKENS.values()]
        return super().secrets() + tokens


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def credentials_from_env(source: str, auth: AuthSpec) -> Credentials:
    """The source's credentials from its environment variables; a missing or unusable one is ApiConfigError."""
    from .http import ApiConfigError

    values = {role: os.environ.get(name, "").strip() for role, name in auth.env.items()}
    hint = auth.describe()

    def required(*roles: str) -> list[str]:
        missing = [auth.env[role] for role in roles if not values[role]]
        if missing:
            raise ApiConfigError(f"{source}: API credentials are not set: export {' and '.join(missing)}")
        return [values[role] for role in roles]

    if auth.scheme == "bearer":
        (key,) = required("key")
        return StaticHeaders(source, auth.env["key"], {"Authorization": f"Bearer {key}"}, [key])
    if auth.scheme == "stripe":
        (key,) = required("key")
        if key.startswith("pk_"):
            raise ApiConfigError(
                f"{source}: {auth.env['key']} holds a publishable key (pk_...), which cannot read balance "
                "transactions: use a secret (sk_...) or restricted (rk_...) key"
            )
        headers = {"Authorization": f"Bearer {key}"}
        if values.get("account"):
            headers["Stripe-Account"] = values["account"]
        return StaticHeaders(source, hint, headers, [key])
    if auth.scheme == "paypal_oauth2":
        client_id, secret = required("client_id", "client_secret")
        return PayPalOAuth2(source, hint, client_id, secret)
    if auth.scheme == "adyen":
        if values["key"]:
            return StaticHeaders(source, auth.env["key"], {"X-API-Key": values["key"]}, [values["key"]])
        if values["username"] or values["password"]:
            user, password = required("username", "password")
            hint = f"{auth.env['username']} / {auth.env['password']}"
            return StaticHeaders(source, hint, {"Authorization": _basic(user, password)}, [password])
        raise ApiConfigError(
            f"{source}: API credentials are not set: export {auth.env['key']} (API key), "
            f"or {auth.env['username']} and {auth.env['password']} (basic auth)"
        )
    raise ApiConfigError(f"{source}: unknown authentication scheme {auth.scheme!r}")
