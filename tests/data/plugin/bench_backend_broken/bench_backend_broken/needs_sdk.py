"""A vendor backend whose SDK is not installed: importing it fails, as a real one does on a machine without it."""

import vendor_sdk_not_installed  # noqa: F401

from bench.backends.base import Backend


class VendorBackend(Backend):
    name = "broken-import"
