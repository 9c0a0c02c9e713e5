"""Where an LLM request may go, and which key goes with it.

- ``openai`` talks to https://api.openai.com only, with ``OPENAI_API_KEY`` (``OPENAI_BASE_URL`` is ignored).
- ``openai-compatible`` sends the key it is given (``--api-key-env NAME``; none by default), and never the value of
  ``OPENAI_API_KEY`` to a server other than api.openai.com. Credential headers the OpenAI client adds from the
  environment (``OPENAI_CUSTOM_HEADERS``, organization, project) are dropped.
- Plain ``http://`` goes to loopback only, unless ``allow_insecure_http``. Link-local (169.254.0.0/16, fe80::/10)
  and cloud metadata addresses are refused always.
- The host name is resolved once and every address it resolves to is checked; connections then go to a checked
  address (pinned), never to a new DNS answer, without proxies and without following redirects.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import FewShotError
from ..redact import redact_text, redact_url

OPENAI_URL = "https://api.openai.com/v1"
OPENAI_HOST = "api.openai.com"
APP_KEY_ENV = "OPENAI_COMPATIBLE_API_KEY"  # the one key variable the app offers for openai-compatible servers
_NO_KEY = "fewshot-no-key"  # what the OpenAI client holds instead of a key; never leaves this process
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, DigitalOcean... (link-local anyway)
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS time sync / DNS over IPv6
        "fd20:ce::254",  # GCP metadata over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "168.63.129.16",  # Azure WireServer
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Endpoint:
    """A checked server: where requests go, and the addresses its name resolved to (all allowed)."""

    url: str
    scheme: str
    host: str  # lower case, no brackets, no trailing dot
    port: int
    addresses: tuple[str, ...]

    @property
    def is_openai(self) -> bool:
        """Whether this is OpenAI's own API (the only server OPENAI_API_KEY is sent to)."""
        return (self.scheme, self.host, self.port) == ("https", OPENAI_HOST, 443)

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


def check_base_url(url: str, allow_insecure_http: bool = False) -> Endpoint:
    """Check an openai-compatible base URL and resolve its host; returns the endpoint to connect to.

    Raises:
        FewShotError: a malformed URL, a scheme other than http(s), a name that does not resolve, any address that
            is link-local or a cloud metadata service, or plain http to another machine without
            ``allow_insecure_http``.
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError as e:
        raise FewShotError(f"The base URL {shown!r} is not a valid URL ({redact_text(str(e))}); write it like http://localhost:11434/v1.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FewShotError(f"The base URL {shown!r} must start with http:// or https://, e.g. http://localhost:11434/v1.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FewShotError(f"The base URL {shown!r} names no server; write it like http://localhost:11434/v1.")
    try:
        host = host.encode("idna").decode("ascii").lower()  # the form a request's URL carries
    except UnicodeError:
        raise FewShotError(f"The base URL {shown!r} has a server name that is not valid ({host!r}).") from None
    if host in METADATA_HOSTS:
        raise FewShotError(f"Refusing {shown}: {host} is a cloud metadata service, never an LLM server.")
    port = port or (443 if scheme == "https" else 80)
    addresses = resolve(host, port)
    for address in addresses:
        reason = refusal(address)
        if reason:
            raise FewShotError(f"Refusing {shown}: {host} resolves to {address}, {reason}. Descriptions are never requested from there.")
    if scheme == "http" and not allow_insecure_http and not all(is_loopback(a) for a in addresses):
        raise FewShotError(
            f"Plain http:// is only used for a server on this machine, and {host} is not one: the key and the prompts would "
            "cross the network unencrypted. Use https://, or add --allow-insecure-http if that network is trusted."
        )
    return Endpoint(str(url).strip(), scheme, host, port, addresses)


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to, in the resolver's order (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as e:
        raise FewShotError(f"Could not resolve the server name {host!r} ({e}). Check the base URL.") from None
    return tuple(dict.fromkeys(info[4][0] for info in infos))


def _plain_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address, with an IPv4 address inside an IPv6 one (``::ffff:169.254.169.254``, NAT64) taken out."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(ip.compressed.split("%")[0])  # without the zone (fe80::1%eth0)
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refusal(address: str) -> str | None:
    """Why requests must never go to ``address``, or None."""
    ip = _plain_ip(address)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address (169.254.0.0/16, fe80::/10)"
    if ip.is_unspecified or ip.is_multicast:
        return "not a server address"
    return None


def is_loopback(address: str) -> bool:
    return _plain_ip(address).is_loopback


def key_from_env(name: str | None) -> str | None:
    """The key in environment variable ``name`` (``--api-key-env``); None when no variable is named.

    Raises:
        FewShotError: the name is no variable name, or the variable is unset or empty.
    """
    if not name:
        return None
    if not _ENV_NAME.fullmatch(name):
        raise FewShotError(f"--api-key-env takes the name of an environment variable, like MY_SERVER_KEY (got {name!r}).")
    value = os.environ.get(name, "").strip()
    if not value:
        raise FewShotError(f"--api-key-env names {name}, which is not set (or empty). Export it, or leave --api-key-env out to send no key.")
    return value


def check_key_destination(key: str | None, endpoint: Endpoint) -> None:
    """Refuse to send OPENAI_API_KEY's value (under any variable name) to a server other than api.openai.com."""
    openai_key = os.environ.get("OPENAI_API_KEY", "").strip()
    if key and openai_key and key.strip() == openai_key and not endpoint.is_openai:
        raise FewShotError(
            f"OPENAI_API_KEY is only ever sent to https://{OPENAI_HOST}, not to {endpoint.host}. Give this server its own key "
            "in another variable (--api-key-env NAME), or none."
        )


def compatible_client(endpoint: Endpoint, api_key: str | None, timeout: float) -> Any:
    """An OpenAI client for a checked openai-compatible server: pinned to its checked addresses, sending ``api_key``
    (or no Authorization at all), no proxies, no redirects."""
    import openai

    guard = RequestGuard(endpoint, api_key, min(timeout, 5.0))
    http = openai.DefaultHttpxClient(follow_redirects=False, trust_env=False, verify=_verify_setting(), event_hooks={"request": [guard]})
    return openai.OpenAI(
        api_key=_NO_KEY,
        base_url=endpoint.url,
        timeout=timeout,
        max_retries=0,  # ours are reported and bounded (sources.OpenAISource)
        http_client=http,
        default_headers={"Authorization": f"Bearer {_NO_KEY}"},  # explicit: OPENAI_CUSTOM_HEADERS cannot add one
    )


def _verify_setting() -> ssl.SSLContext | bool:
    """Certificate checking as usual; a CA file or folder in SSL_CERT_FILE / SSL_CERT_DIR still counts (the client
    reads no other environment, so that no proxy sees the key)."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    return ssl.create_default_context(cafile=cafile, capath=capath) if cafile or capath else True


class RequestGuard:
    """An httpx request hook: each request goes to the checked endpoint's origin only, is sent to a checked address
    (so that DNS cannot change its mind after the check), and carries our key or none."""

    def __init__(self, endpoint: Endpoint, api_key: str | None, probe_timeout: float) -> None:
        self.endpoint, self.api_key, self.probe_timeout = endpoint, api_key, probe_timeout
        self.pinned: str | None = None
        self.env_header_names = _custom_header_names()

    def __call__(self, request: Any) -> None:
        url = request.url
        host = url.raw_host.decode("ascii", errors="replace").lower().rstrip(".").strip("[]")
        origin = (url.scheme, host, url.port or (443 if url.scheme == "https" else 80))
        if origin != self.endpoint.origin:
            raise FewShotError(f"Refusing a request to {redact_url(str(url))}: only {redact_url(self.endpoint.url)} was checked.")
        self._set_credentials(request)
        address = self._address()
        if url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": self.endpoint.host}  # the certificate is checked for the name
        request.url = url.copy_with(host=address)  # the Host header keeps the name

    def _set_credentials(self, request: Any) -> None:
        headers = request.headers
        for name in list(headers.keys()):
            lowered = name.lower()
            ambient = lowered in self.env_header_names or lowered in ("api-key", "x-api-key", "openai-organization", "openai-project")
            # Authorization survives only as Basic credentials the user wrote into the URL (user:password@host)
            foreign_auth = lowered == "authorization" and not (request.url.userinfo and headers[name].startswith("Basic "))
            if ambient or foreign_auth:
                del headers[name]
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"

    def _address(self) -> str:
        """The checked address to connect to: the first that accepts a connection (``localhost`` may resolve to ::1
        while the server listens on 127.0.0.1 only), chosen once."""
        if self.pinned is None:
            addresses = self.endpoint.addresses
            self.pinned = (
                next((a for a in addresses if _accepts(a, self.endpoint.port, self.probe_timeout)), addresses[0])
                if len(addresses) > 1
                else addresses[0]
            )
        return self.pinned


def _accepts(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _custom_header_names() -> set[str]:
    """Header names in OPENAI_CUSTOM_HEADERS ("Name: value" lines), which the OpenAI client adds to every request."""
    text = os.environ.get("OPENAI_CUSTOM_HEADERS", "")
    return {line.split(":", 1)[0].strip().lower() for line in text.splitlines() if ":" in line}
