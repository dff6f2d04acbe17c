"""The remote backend's endpoints and credentials, read from its options: `--url` (one endpoint or a list) and
`--header` (sent with every request, its value never written anywhere). Light: the options are checked with it
before anything loads."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from bench.errors import UsageError

RESENT_NAMED = 100  # the record names this many re-sent samples by index (and counts them all)
SCHEMES = {"http": ("http", False), "https": ("http", True), "grpc": ("grpc", False), "grpcs": ("grpc", True)}


@dataclass
class Endpoint:
    url: str  # as the user gave it, scheme included: what records and messages name
    protocol: str  # http or grpc
    address: str  # host:port, as tritonclient takes it
    tls: bool
    local: threading.local = field(default_factory=threading.local)  # this thread's client of the endpoint
    outstanding: int = 0
    requests: int = 0
    samples: int = 0
    busy_s: float = 0.0
    lost: str | None = None  # why it was taken out mid-run (it no longer answers)
    resent: int = 0  # samples of its failed requests that were sent to another endpoint instead
    resent_ids: list[int] = field(default_factory=list)  # their sample indices, the first RESENT_NAMED of them


def client_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tritonclient")
    except PackageNotFoundError:
        return "unknown"


def parse_urls(text: str) -> list[Endpoint]:
    """`--url`: one endpoint or a comma list, each http://, https://, grpc:// or grpcs:// host:port."""
    endpoints = []
    for url in (u.strip() for u in text.split(",")):
        scheme, sep, address = url.partition("://")
        if not sep or scheme not in SCHEMES or not address or "/" in address.rstrip("/"):
            raise UsageError(f"--url {url!r}: give scheme://host:port with scheme one of {', '.join(SCHEMES)} "
                             "(e.g. grpc://127.0.0.1:8001), or a comma list of them")
        protocol, tls = SCHEMES[scheme]
        endpoints.append(Endpoint(url, protocol, address.rstrip("/"), tls))
    return endpoints


def parse_header(text: str | None) -> dict[str, str]:
    """`--header 'Name: value'`; `Name: env:VAR` reads the value from the environment, off the command line."""
    if not text:
        return {}
    name, sep, value = (part.strip() for part in text.partition(":"))
    if not sep or not name or not value:
        raise UsageError("--header must be 'Name: value' (or 'Name: env:VARIABLE' to read the value from the "
                         "environment)")
    if value.startswith("env:"):
        variable = value[4:]
        if variable not in os.environ:
            raise UsageError(f"--header {name}: environment variable {variable} is not set")
        value = os.environ[variable]
    return {name: value}
