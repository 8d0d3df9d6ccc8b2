"""Whether a host name is loopback: the one check every server of ours binds or trusts by."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """`localhost`, `127.0.0.0/8` or `::1` (bracketed as in a URL or not); a name that is not
    an address, which would need a lookup to place, is not loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
