"""Keeping secrets out of what is stored, shown or logged: URL credentials, secret query parameters, argv.

A query (or fragment) parameter is secret when its name contains one of ``SECRET_NAME_PARTS``, case-insensitive:
``api_key``, ``x-api-key``, ``subscription-key``, ``access_token``, ``sig``, ``password``, ``Authorization``...
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
SECRET_NAME_PARTS = ("key", "token", "secret", "sig", "passw", "pwd", "auth", "credential", "session")
# A command-line flag hides its value when one of its words is one of these (``--max-tokens`` is no secret).
SECRET_FLAG_WORDS = {"key", "apikey", "token", "secret", "password", "passwd", "pwd", "auth", "credential", "credentials"}
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#]*@")  # greedy: a password may hold an '@'
_PARAM = re.compile(r"(?P<lead>[?&;#])(?P<name>[^=&;#?\s]+)=(?P<value>[^&;#\s]*)")
_BEARER = re.compile(r"\b(?P<scheme>Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{12,}", re.IGNORECASE)  # not "Basic auth"
_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")  # an OpenAI-style key quoted bare in a message


def is_secret_name(name: str) -> bool:
    """Whether a parameter or flag name looks like it carries a credential (``X-Api-Key``, ``sig``, ``access_token``)."""
    lowered = unquote_plus(name).lower()
    return any(part in lowered for part in SECRET_NAME_PARTS)


def redact_url(url: str | None) -> str:
    """``url`` without user name and password, and with secret-looking query values replaced by ``REDACTED``.

    ``http://user:sk-123@host:8000/v1?api_key=x&v=2`` -> ``http://host:8000/v1?api_key=REDACTED&v=2``.
    A string that does not parse as a URL is cleaned as free text (``redact_text``).
    """
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, _redact_pairs(parts.query), _redact_pairs(parts.fragment)))


def _redact_pairs(text: str) -> str:
    """A query or fragment with secret values replaced; text that is not ``name=value`` pairs is kept as is."""
    if "=" not in text:
        return text
    pairs = parse_qsl(text, keep_blank_values=True)
    return urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in pairs])


def redact_text(text: str) -> str:
    """Free text (log lines, error messages, an argument) with URL credentials, secret parameters,
    ``Bearer``/``Basic`` credentials and bare ``sk-...`` keys replaced."""
    text = _USERINFO.sub(r"\g<scheme>", text)
    text = _PARAM.sub(lambda m: f"{m['lead']}{m['name']}={REDACTED}" if is_secret_name(m["name"]) else m[0], text)
    text = _BEARER.sub(rf"\g<scheme> {REDACTED}", text)
    return _OPENAI_KEY.sub(f"sk-{REDACTED}", text)


def redact_argv(argv: list[str]) -> list[str]:
    """A command line fit to store: every argument cleaned by ``redact_text``, and the value of a flag whose name
    looks secret (``--token X``, ``--password=X``) replaced. ``--api-key-env NAME`` names a variable, kept."""
    out: list[str] = []
    hide_next = False
    for arg in map(str, argv):
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        flag, eq, value = arg.partition("=")
        words = set(flag[2:].lower().replace("_", "-").split("-")) if flag.startswith("--") else set()
        secret_flag = bool(words & SECRET_FLAG_WORDS) and "env" not in words
        if secret_flag and eq:
            out.append(f"{flag}={REDACTED}")
        else:
            out.append(redact_text(arg))
            hide_next = secret_flag
    return out


def redact_value(value):
    """A JSON-like value (dict, list, str) with every string in it cleaned by ``redact_text`` (the settings a job
    stores; an ``argv`` list among them is cleaned like one)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_argv(v) if k == "argv" and isinstance(v, list) else redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that removes credentials from every record it passes (e.g. httpx's request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
