"""Keys reach only their own server, over safe transport; credentials are never stored; image bombs are refused.

A fake OpenAI-compatible server on 127.0.0.1 records every request's headers. Every refused command line exits 2
with exactly one ``error:`` line on stderr and no traceback.
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from fewshot_app.jobs import JobRegistry
from fewshot_core import FewShotError
from fewshot_core.cli import main
from fewshot_core.datasets.images import find_unreadable, is_readable, load_rgb, open_checked
from fewshot_core.descriptions.generate import DescribeRequest
from fewshot_core.descriptions.sources import GenerationSettings
from fewshot_core.descriptions.store import DescriptionStore
from fewshot_core.jobspec import DatasetSpec, DescribeSpec
from fewshot_core.redact import redact_argv, redact_text, redact_url
from fewshot_core.storage import default_cache_root

from .fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
OPENAI_KEY = "sk-openai-DO-NOT-SEND-0123456789abcdef"
OWN_KEY = "sk-own-server-key-0123456789abcdef"


def _describe(cub_root, cache, url, *extra):
    return ["describe", "--dataset", "cub", "--root", str(cub_root), "--cache", str(cache), "--source", "openai-compatible"] + [
        "--base-url",
        url,
        "--model",
        "ok",
        "--classes",
        "1",
        *extra,
    ]


def _refused(capsys, argv, after_progress: bool = False) -> str:
    """Run the CLI; it must exit 2 with exactly one line on stderr, an ``error:`` line, and no traceback
    (``after_progress``: refused once requests began, so the progress bar came first; the error line is last)."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines() if not after_progress else err.strip().splitlines()[-1:]
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and len(errors) == 1 and "Traceback" not in err, (code, err)
    return lines[0]


def _fake_dns(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Resolve the names in ``answers`` to those addresses (other names as usual); returns the names looked up."""
    real, asked = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            asked.append(host)
            if not answers[host]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            family = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET  # noqa: E731
            return [(family(a), socket.SOCK_STREAM, 6, "", (a, port) if ":" not in a else (a, port, 0, 0)) for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def _files_under(*roots: Path) -> dict[Path, str]:
    return {p: p.read_text(errors="ignore") for root in roots for p in Path(root).rglob("*") if p.is_file()}


# --- which key goes where -------------------------------------------------------------------------------------------


def test_openai_key_never_goes_to_a_compatible_server(cub_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    with FakeOpenAI() as server:
        assert main(_describe(cub_root, tmp_path, server.base_url)) == 0
        assert server.calls and server.auth_headers == [""] * len(server.auth_headers)  # no Authorization at all
    out = capsys.readouterr()
    assert OPENAI_KEY not in out.out + out.err and all(OPENAI_KEY not in text for text in _files_under(tmp_path).values())


def test_api_key_env_sends_that_key_and_nothing_from_the_environment(cub_root, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("MY_KEY", OWN_KEY)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-secret-org")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-DO-NOT-SEND-0123456789")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Api-Key: sk-custom-DO-NOT-SEND\nAuthorization: Bearer sk-ambient-DO-NOT-SEND")
    with FakeOpenAI() as server:
        assert main(_describe(cub_root, tmp_path, server.base_url, "--api-key-env", "MY_KEY")) == 0
        assert server.auth_headers and set(server.auth_headers) == {f"Bearer {OWN_KEY}"}
        sent = json.dumps(server.headers)
    for secret in (OPENAI_KEY, "org-secret-org", "sk-admin", "sk-custom", "sk-ambient"):
        assert secret not in sent
    assert all(OWN_KEY not in text for text in _files_under(tmp_path).values())


@pytest.mark.parametrize(
    "variable, message",
    [
        ("OPENAI_API_KEY", "OPENAI_API_KEY is only ever sent to https://api.openai.com"),
        ("COPY_OF_OPENAI_KEY", "OPENAI_API_KEY is only ever sent to https://api.openai.com"),  # the same value, renamed
        ("UNSET_KEY", "--api-key-env names UNSET_KEY, which is not set"),
        ("not a name", "--api-key-env takes the name of an environment variable"),
    ],
)
def test_a_key_variable_that_cannot_be_used_is_refused_before_any_request(cub_root, tmp_path, monkeypatch, capsys, variable, message):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("COPY_OF_OPENAI_KEY", OPENAI_KEY)
    monkeypatch.delenv("UNSET_KEY", raising=False)
    with FakeOpenAI() as server:
        line = _refused(capsys, _describe(cub_root, tmp_path, server.base_url, "--api-key-env", variable))
        assert not server.calls
    assert message in line and OPENAI_KEY not in line
    assert not (tmp_path / "descriptions").exists()  # refused before anything was stored


def test_key_flags_belong_to_the_compatible_source(cub_root, tmp_path, capsys):
    argv = ["describe", "--dataset", "cub", "--root", str(cub_root), "--cache", str(tmp_path), "--source", "openai"]
    assert "applies to --source openai-compatible only" in _refused(capsys, [*argv, "--base-url", "https://example.org/v1"])
    assert "applies to --source openai-compatible only" in _refused(capsys, [*argv, "--api-key-env", "MY_KEY"])


def test_the_openai_source_ignores_openai_base_url(monkeypatch):
    from fewshot_core.descriptions.sources import OpenAISource

    monkeypatch.setenv("OPENAI_BASE_URL", "http://169.254.169.254/v1")
    source = OpenAISource(api_key="sk-test")
    assert str(source.client.base_url).startswith("https://api.openai.com/v1")


# --- where requests may go ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://192.0.2.10:8000/v1", "http://llm.example.test/v1"])
def test_plain_http_to_another_machine_needs_the_flag(cub_root, tmp_path, monkeypatch, capsys, url):
    _fake_dns(monkeypatch, {"llm.example.test": ["192.0.2.11"]})
    line = _refused(capsys, _describe(cub_root, tmp_path, url))
    assert "Plain http:// is only used for a server on this machine" in line and "--allow-insecure-http" in line
    # with the flag the address is allowed; the (offline) connection then fails, as it would to an absent server
    line = _refused(capsys, _describe(cub_root, tmp_path, url, "--allow-insecure-http", "--retries", "0", "--timeout", "1"), after_progress=True)
    assert "Could not reach" in line


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/v1",
        "https://169.254.169.254/v1",
        "http://169.254.0.1:8080/v1",
        "http://[fe80::1]:8080/v1",
        "http://[::ffff:169.254.169.254]/v1",
        "http://[64:ff9b::a9fe:a9fe]/v1",  # NAT64 form of 169.254.169.254
        "http://[fd00:ec2::254]/v1",
        "http://100.100.100.200/v1",
        "http://metadata.google.internal/computeMetadata/v1",
        "http://METADATA.google.internal./v1",
        "http://0.0.0.0:8000/v1",
    ],
)
def test_link_local_and_metadata_addresses_are_refused_even_with_the_flag(cub_root, tmp_path, capsys, url):
    line = _refused(capsys, _describe(cub_root, tmp_path, url, "--allow-insecure-http"))
    assert line.startswith("error: Refusing ")


@pytest.mark.parametrize("answers", [["169.254.169.254"], ["127.0.0.1", "169.254.10.10"], ["fe80::1"]])
def test_a_name_resolving_to_link_local_is_refused(cub_root, tmp_path, monkeypatch, capsys, answers):
    asked = _fake_dns(monkeypatch, {"innocent.example.test": answers})
    line = _refused(capsys, _describe(cub_root, tmp_path, "https://innocent.example.test/v1", "--allow-insecure-http"))
    assert asked and "Refusing https://innocent.example.test/v1: innocent.example.test resolves to" in line


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://[::1/v1", "is not a valid URL"),
        ("http://127.0.0.1:99999/v1", "is not a valid URL"),
        ("ftp://127.0.0.1/v1", "must start with http:// or https://"),
        ("localhost:11434/v1", "must start with http:// or https://"),
        ("http:///v1", "names no server"),
        ("http://no-such-host.invalid/v1", "Could not resolve the server name"),
    ],
)
def test_a_malformed_base_url_is_one_error_line(cub_root, tmp_path, monkeypatch, capsys, url, message):
    _fake_dns(monkeypatch, {"no-such-host.invalid": []})  # never a real DNS query in a test
    assert message in _refused(capsys, _describe(cub_root, tmp_path, url))


def test_a_malformed_url_with_credentials_does_not_show_them(cub_root, tmp_path, capsys):
    line = _refused(capsys, _describe(cub_root, tmp_path, "http://alice:sk-user-secret@[::1/v1?x-api-key=sk-query-secret"))
    assert "is not a valid URL" in line and "sk-user-secret" not in line and "sk-query-secret" not in line


def test_the_connection_goes_to_the_checked_address_even_if_dns_changes(cub_root, tmp_path, monkeypatch):
    """DNS rebinding: the name resolves to loopback when checked, to the metadata service afterwards."""
    real = socket.getaddrinfo
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        if host == "llm.example.test":
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) <= 2 else "169.254.169.254"  # the check(s), then the attack
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with FakeOpenAI() as server:
        assert main(_describe(cub_root, tmp_path, f"http://llm.example.test:{server.port}/v1", "--classes", "3")) == 0
        assert len(server.calls) == 3 and {h["host"] for h in server.headers} == {f"llm.example.test:{server.port}"}
    assert len(lookups) <= 2  # resolved for the check only, never again when connecting


def test_redirects_are_not_followed(cub_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MY_KEY", OWN_KEY)
    with FakeOpenAI() as server:
        argv = _describe(cub_root, tmp_path, server.base_url, "--api-key-env", "MY_KEY", "--retries", "0")
        line = _refused(capsys, [*argv, "--model", "redirect"], after_progress=True)  # the later --model wins
        assert len(server.headers) == 1  # the 307 to the metadata address was not followed
    assert "HTTP 307" in line


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_to_a_pinned_address_still_checks_the_certificate_name(cub_root, tmp_path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setenv("MY_KEY", OWN_KEY)
    with FakeOpenAI(tls=(str(cert), str(key))) as server:
        assert main(_describe(cub_root, tmp_path / "a", f"https://localhost:{server.port}/v1", "--api-key-env", "MY_KEY")) == 0
        assert server.auth_headers == [f"Bearer {OWN_KEY}"] and server.headers[0]["host"] == f"localhost:{server.port}"
        # the certificate names localhost, not 127.0.0.1: connecting by address must fail the name check
        assert main(_describe(cub_root, tmp_path / "b", f"https://127.0.0.1:{server.port}/v1", "--retries", "0", "--timeout", "2")) == 2


# --- credentials are never stored -----------------------------------------------------------------------------------


def test_redaction_covers_common_key_names():
    url = "https://alice:sk-pw@host:8000/v1?X-Api-Key=a&subscription-key=b&access-token=c&sig=d&API_KEY=e&model=m#access_token=f"
    assert redact_url(url) == (
        "https://host:8000/v1?X-Api-Key=REDACTED&subscription-key=REDACTED&access-token=REDACTED&sig=REDACTED&API_KEY=REDACTED"
        "&model=m#access_token=REDACTED"
    )
    assert redact_text("GET http://u:p@ss@h/v1?Sig=abc&v=1 failed") == "GET http://h/v1?Sig=REDACTED&v=1 failed"
    assert redact_text("Authorization: Bearer sk-proj-0123456789abcdefghij") == "Authorization: Bearer REDACTED"
    assert redact_argv(["--base-url=http://u:pw@h/v1?token=t", "--max-tokens", "400", "--api-key-env", "MY_KEY", "--password", "pw"]) == [
        "--base-url=http://h/v1?token=REDACTED",
        "--max-tokens",
        "400",
        "--api-key-env",
        "MY_KEY",
        "--password",
        "REDACTED",
    ]


def _until(check, timeout=120.0):
    end = time.time() + timeout
    while time.time() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_describe_job_stores_no_credential_anywhere(cub_root, monkeypatch):
    """job.json, events, logs and meta.json of a real job: no user-info, no secret query value, no key."""
    secrets = ["alice-user", "sk-userinfo-secret", "sk-query-secret", "sk-subscription-secret", OWN_KEY, OPENAI_KEY]
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    registry = JobRegistry(default_cache_root())
    with FakeOpenAI() as server:
        url = server.base_url.replace("http://", "http://alice-user:sk-userinfo-secret@")
        url += "?x-api-key=sk-query-secret&Subscription-Key=sk-subscription-secret&v=1"
        request = DescribeRequest("openai-compatible", settings=GenerationSettings(model="ok"), base_url=url, api_key_env="MY_KEY")
        job = registry.start("describe", DescribeSpec(DatasetSpec("cub", str(cub_root)), request), "compat", secrets={"MY_KEY": OWN_KEY})
        _until(lambda: not job.running)
        assert job.status == "finished", job.error
        assert set(server.auth_headers) == {f"Bearer {OWN_KEY}"}
    record = json.loads((job.folder / "job.json").read_text())
    assert record["spec"]["request"]["base_url"].endswith("?x-api-key=REDACTED&Subscription-Key=REDACTED&v=1")
    assert record["spec"]["request"]["api_key_env"] == "MY_KEY" and "REDACTED" in record["description"]
    [dset] = DescriptionStore(default_cache_root()).list("cub")
    assert dset.meta["settings"]["base_url"].endswith("/v1?x-api-key=REDACTED&Subscription-Key=REDACTED&v=1")
    for path, text in _files_under(job.folder, default_cache_root() / "descriptions").items():
        assert not [s for s in secrets if s in text], path


def test_a_failing_job_shows_no_credential_in_its_error(cub_root, monkeypatch):
    registry = JobRegistry(default_cache_root())
    url = "http://alice:sk-userinfo-secret@[::1/v1?access_token=sk-query-secret"
    request = DescribeRequest("openai-compatible", base_url=url)
    job = registry.start("describe", DescribeSpec(DatasetSpec("cub", str(cub_root)), request), slot="compat")
    _until(lambda: not job.running)
    assert job.status == "failed" and "is not a valid URL" in job.error
    stderr = (job.folder / "stderr.log").read_text()
    assert stderr.count("error:") == 1 and "Traceback" not in stderr
    for path, text in _files_under(job.folder).items():
        assert "sk-userinfo-secret" not in text and "sk-query-secret" not in text, path


# --- decompression bombs --------------------------------------------------------------------------------------------


def _bomb_png(path: Path, width: int = 12000, height: int = 12000) -> Path:
    """A 1-bit black PNG of width x height written row by row: a few KB on disk, never the whole image in memory."""
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte + packed pixels
    packer, chunks = zlib.compressobj(9), []
    for _ in range(height):
        chunks.append(packer.compress(row))
    chunks.append(packer.flush())

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(chunks)) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_unreadable_without_being_decoded(tmp_path, monkeypatch):
    bomb = _bomb_png(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 60_000  # 144 megapixels in a few KB
    small = tmp_path / "small.png"
    Image.new("RGB", (16, 16), "red").save(small)
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    assert not is_readable(bomb) and find_unreadable([small, bomb]) == [bomb]
    assert (12000, 12000) not in decoded and (16, 16) in decoded  # the bomb was refused from its header
    with pytest.raises(ValueError, match="above the limit of 89,478,485"):
        load_rgb(bomb)


def test_the_pixel_limit_is_configurable(tmp_path, monkeypatch):
    bomb = _bomb_png(tmp_path / "bomb.png")
    monkeypatch.setenv("FEWSHOT_MAX_IMAGE_PIXELS", "200_000_000")
    with open_checked(bomb) as img:  # header only: raising the limit lets it through (PIL's own check included)
        assert img.size == (12000, 12000)
    for size, ok in (((60, 60), True), ((80, 80), False)):
        Image.new("RGB", size, "blue").save(tmp_path / f"{size[0]}.png")
        monkeypatch.setenv("FEWSHOT_MAX_IMAGE_PIXELS", "5000")
        assert is_readable(tmp_path / f"{size[0]}.png") is ok
    monkeypatch.setenv("FEWSHOT_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(FewShotError, match="FEWSHOT_MAX_IMAGE_PIXELS must be a whole number"):
        find_unreadable([bomb])


def test_verify_dataset_lists_a_bomb_and_refuses_a_bad_limit(cub_root, monkeypatch, capsys):
    image = next((Path(cub_root) / "CUB_200_2011" / "images").rglob("*.jpg"))
    _bomb_png(image)  # PIL reads the content, whatever the name
    assert main(["verify-dataset", "--dataset", "cub", "--root", str(cub_root)]) == 0
    assert image.name in capsys.readouterr().out
    monkeypatch.setenv("FEWSHOT_MAX_IMAGE_PIXELS", "-5")
    assert "FEWSHOT_MAX_IMAGE_PIXELS must be a whole number" in _refused(capsys, ["verify-dataset", "--dataset", "cub", "--root", str(cub_root)])


def test_the_real_cli_refuses_a_malformed_url_in_one_line(cub_root, tmp_path):
    argv = ["describe", "--dataset", "cub", "--root", str(cub_root), "--source", "openai-compatible", "--base-url", "http://[::1/v1"]
    out = subprocess.run([sys.executable, "-m", "fewshot_core", *argv], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 2 and out.stderr.strip().splitlines() == [out.stderr.strip()] and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: The base URL 'http://[::1/v1' is not a valid URL")
