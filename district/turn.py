"""The ICE servers a call uses: none on a flat LAN, or the district's TURN server with a
credential minted for that one call.

The district runs coturn in its REST-secret mode (`use-auth-secret`,
`static-auth-secret=SECRET`; `installer/coturn/turnserver.conf` is the hardened
configuration). For each call the district mints a credential that coturn checks with
nothing but the shared secret: the username is `EXPIRY:call-ID` (Unix seconds), the
password base64(HMAC-SHA1(SECRET, username)). coturn refuses it once EXPIRY has passed, so
a credential that leaks is good for one call's few minutes at most, and no long-lived
credential ever leaves the district.

Settings, from the district server's environment:

    DISTRICT_TURN_URLS         comma-separated `turn:`/`turns:` URLs; empty: no TURN (LAN)
    DISTRICT_TURN_SECRET_FILE  the file holding coturn's static-auth-secret (preferred),
    DISTRICT_TURN_SECRET       or the secret itself
    DISTRICT_TURN_TTL_S        how long a minted credential lasts (default 600, 60–86400)
    DISTRICT_ICE_POLICY        all (default) or relay: force every call through TURN

Never a STUN server of anyone else's: an empty list means host candidates only, which is
what a station on the district's own LAN needs and what keeps an offline station from
waiting on a server it cannot reach.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kiosk.remote.protocol import IceServer

DEFAULT_TTL_S = 600


class TurnSettingsError(ValueError):
    """The TURN settings in the environment cannot be used (the text says which)."""


@dataclass(frozen=True)
class TurnSettings:
    urls: tuple[str, ...] = ()
    secret: bytes = b""
    ttl_s: int = DEFAULT_TTL_S
    policy: Literal["all", "relay"] = "all"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TurnSettings:
        env = os.environ if env is None else env
        urls = tuple(u.strip() for u in env.get("DISTRICT_TURN_URLS", "").split(",") if u.strip())
        for url in urls:
            if not url.startswith(("turn:", "turns:")):
                raise TurnSettingsError(f"DISTRICT_TURN_URLS: {url!r} is not a turn: URL")
        try:
            secret = env.get("DISTRICT_TURN_SECRET", "").encode()
        except UnicodeEncodeError:  # bytes that are not UTF-8 in the environment
            raise TurnSettingsError("DISTRICT_TURN_SECRET is not UTF-8 text") from None
        secret_file = env.get("DISTRICT_TURN_SECRET_FILE", "")
        if secret_file:
            try:
                secret = Path(secret_file).read_bytes().strip()
            except OSError as error:
                raise TurnSettingsError(
                    f"DISTRICT_TURN_SECRET_FILE: {error.strerror}: {secret_file}"
                ) from None
        if urls and not secret:
            raise TurnSettingsError("DISTRICT_TURN_URLS is set but there is no TURN secret")
        try:
            ttl = int(env.get("DISTRICT_TURN_TTL_S", DEFAULT_TTL_S))
        except ValueError:
            raise TurnSettingsError("DISTRICT_TURN_TTL_S is not a whole number") from None
        if not 60 <= ttl <= 86400:
            raise TurnSettingsError("DISTRICT_TURN_TTL_S must be between 60 and 86400")
        policy = env.get("DISTRICT_ICE_POLICY", "all")
        if policy not in ("all", "relay"):
            raise TurnSettingsError("DISTRICT_ICE_POLICY must be all or relay")
        if policy == "relay" and not urls:
            raise TurnSettingsError("DISTRICT_ICE_POLICY=relay needs DISTRICT_TURN_URLS")
        return cls(urls, secret, ttl, policy)  # type: ignore[arg-type]


def mint(secret: bytes, name: str, ttl_s: int, now: float | None = None) -> tuple[str, str]:
    """coturn's REST credential: (username `EXPIRY:name`, password)."""
    expiry = int((time.time() if now is None else now) + ttl_s)
    username = f"{expiry}:{name}"
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_for_call(
    settings: TurnSettings, call_id: str, now: float | None = None
) -> tuple[list[IceServer], Literal["all", "relay"]]:
    """The ICE servers and transport policy for one call (one fresh credential)."""
    if not settings.urls:
        return [], "all"
    username, password = mint(settings.secret, call_id, settings.ttl_s, now)
    return [IceServer(urls=list(settings.urls), username=username, credential=password)], (
        settings.policy
    )
