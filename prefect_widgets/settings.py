"""Where the API lives and how to authenticate, resolved the way Prefect's own client does.

Order: explicit arguments > `configure(...)` > environment (`PREFECT_API_URL`,
`PREFECT_API_KEY`, `PREFECT_API_AUTH_STRING`) > the active profile in
`$PREFECT_HOME/profiles.toml` (`PREFECT_PROFILE` or the file's `active` key).
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from .errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Settings", "resolve_settings", "configure", "prefect_home", "validate_api_url",
           "redact_url"]

_SETTING_NAMES = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING")


@dataclass(frozen=True)
class Settings:
    """Resolved connection settings. The repr never shows secrets."""

    api_url: str
    api_key: str | None = field(default=None, repr=False)
    auth_string: str | None = field(default=None, repr=False)
    profile: str | None = None
    ui_url: str | None = None

    def __repr__(self) -> str:
        auth = "api_key" if self.api_key else "auth_string" if self.auth_string else "none"
        return f"Settings(api_url={self.api_url!r}, auth={auth}, profile={self.profile!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.auth_string) if s)


_configured: dict[str, str | None] = {}
#: bumped by every `configure()`: the shared client is rebuilt when it changes
_generation = [0]


def generation() -> int:
    """How many times `configure()` ran: a shared client built before is out of date."""
    return _generation[0]


def configure(
    api_url: str | None = None,
    api_key: str | None = None,
    auth_string: str | None = None,
    profile: str | None = None,
) -> None:
    """Set this session's defaults for every view, widget, the extension and the CLI.

    Call with no arguments to go back to the environment and profiles.
    """
    _configured.clear()
    given = {"api_url": api_url, "api_key": api_key, "auth_string": auth_string, "profile": profile}
    _configured.update({k: v for k, v in given.items() if v is not None})
    _generation[0] += 1


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def _profile_values(profile: str | None) -> tuple[str | None, dict[str, Any]]:
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml")
    if not path.is_file():
        if profile:
            raise ConfigurationError(f"Profile {profile!r} requested but {path} does not exist.")
        return None, {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"Cannot read Prefect profiles from {path}: {exc}") from None
    name = profile or os.environ.get("PREFECT_PROFILE") or data.get("active")
    profiles = data.get("profiles", {})
    if name is None:
        return None, {}
    if name not in profiles:
        if profile or os.environ.get("PREFECT_PROFILE"):
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigurationError(
                f"Unknown Prefect profile {name!r} in {path} (known: {known}).")
        return name, {}
    return name, {k: v for k, v in profiles[name].items() if isinstance(v, str)}


def resolve_settings(
    api_url: str | None = None,
    api_key: str | None = None,
    auth_string: str | None = None,
    profile: str | None = None,
) -> Settings:
    """Resolve the connection settings; raise `ConfigurationError` if no API URL is set."""
    profile = profile or _configured.get("profile")
    explicit = {
        "PREFECT_API_URL": api_url or _configured.get("api_url"),
        "PREFECT_API_KEY": api_key or _configured.get("api_key"),
        "PREFECT_API_AUTH_STRING": auth_string or _configured.get("auth_string"),
    }
    name, from_profile = _profile_values(profile)
    values: dict[str, str | None] = {}
    for key in _SETTING_NAMES:
        if profile:  # an explicitly chosen profile wins over the environment
            values[key] = explicit[key] or from_profile.get(key) or os.environ.get(key)
        else:
            values[key] = explicit[key] or os.environ.get(key) or from_profile.get(key)
    url = values["PREFECT_API_URL"]
    if not url:
        raise ConfigurationError(
            "No Prefect API URL is configured. Set PREFECT_API_URL (e.g. "
            "http://127.0.0.1:4200/api), pass api_url=..., use a Prefect profile with "
            "PREFECT_API_URL, or try `prefect-widgets demo` for a throwaway local server."
        )
    url = validate_api_url(url)
    ui = os.environ.get("PREFECT_UI_URL") or from_profile.get("PREFECT_UI_URL")
    return Settings(
        api_url=url,
        api_key=values["PREFECT_API_KEY"],
        auth_string=values["PREFECT_API_AUTH_STRING"],
        profile=name,
        ui_url=ui.rstrip("/") if ui else ui_url_for(url),  # links append "/runs/..."
    )


_USERINFO = re.compile(r"(?<=://)[^\s'\"]*@")  # greedy: a password may hold "/" or "@"


def redact_url(text: str) -> str:
    """`text` with the `user:password@` part of any URL in it replaced by `***@`."""
    return _USERINFO.sub("***@", text)


def validate_api_url(url: str) -> str:
    """The API URL every request path is appended to, checked once: http(s), a host, no
    credentials, query, fragment, dot segment or control character. Raises
    `ConfigurationError` (which never shows a password); returns it without a trailing '/'."""
    if "@" in url:  # anywhere: a password holding "/" would end the host part early
        raise ConfigurationError(
            "PREFECT_API_URL must not carry credentials (user:password@host): remove them "
            "from the URL and set PREFECT_API_AUTH_STRING (self-hosted) or PREFECT_API_KEY "
            "(Prefect Cloud) instead.")
    shown = url[:200]
    scheme, separator, _ = url.partition("://")
    if not separator or scheme.lower() not in ("http", "https"):
        raise ConfigurationError(
            f"PREFECT_API_URL must start with http:// or https://, got {shown!r}.")
    if "?" in url or "#" in url:
        raise ConfigurationError(
            f"PREFECT_API_URL must not carry a query or fragment ('?' or '#'), got {shown!r}: "
            "it is the base every API path is appended to, e.g. http://127.0.0.1:4200/api.")
    if "\\" in url or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in url):
        raise ConfigurationError(
            f"PREFECT_API_URL contains a space, backslash or control character: {shown!r}.")
    if any(part in (".", "..") for part in unquote(urlsplit(url).path).split("/")):
        raise ConfigurationError(
            f"PREFECT_API_URL must not contain '.' or '..' path segments, got {shown!r}.")
    try:
        parsed = httpx.URL(url)
        valid = bool(parsed.host) and (parsed.port or 0) <= 65535
    except (httpx.InvalidURL, ValueError, UnicodeError):
        valid = False
    if not valid:
        raise ConfigurationError(f"PREFECT_API_URL is not a valid http(s) URL with a host: "
                                 f"{shown!r}.")
    return url.rstrip("/")


def ui_url_for(api_url: str) -> str | None:
    """The Prefect UI base URL for an API URL (local/self-hosted or Prefect Cloud)."""
    url = api_url.rstrip("/")
    marker = "api.prefect.cloud/api/accounts/"
    if marker in url:
        prefix, rest = url.split(marker, 1)
        parts = rest.split("/")
        if len(parts) >= 3 and parts[1] == "workspaces":
            return f"{prefix}app.prefect.cloud/account/{parts[0]}/workspace/{parts[2]}"
        return None
    if url.endswith("/api"):
        return url[: -len("/api")]
    return None

