"""Keeping secrets out of what is stored or logged: credentials in URLs, secret query parameters."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_PARAMS = {"key", "api_key", "api-key", "apikey", "token", "access_token", "auth", "password", "secret", "sig", "signature"}
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
_SECRET_QUERY = re.compile(r"(?P<name>[?&](?:" + "|".join(re.escape(p) for p in sorted(SECRET_PARAMS)) + r"))=[^&\s#]*", re.IGNORECASE)


def redact_url(url: str | None) -> str:
    """``url`` without user name and password, and with secret-looking query values replaced by ``REDACTED``.

    ``http://user:sk-123@host:8000/v1?api_key=x&v=2`` -> ``http://host:8000/v1?api_key=REDACTED&v=2``.
    """
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, "REDACTED" if k.lower() in SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Any URLs inside free text (log lines, error messages) with their credentials removed."""
    return _SECRET_QUERY.sub(r"\g<name>=REDACTED", _USERINFO.sub(r"\g<scheme>", text))


class RedactingFilter(logging.Filter):
    """A logging filter that removes URL credentials from every record it passes (e.g. httpx's request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
