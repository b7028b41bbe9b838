"""Loopback hosts: a page served there is on the user's own machine, reached by no network.

Browsers count them as secure contexts over plain http (they keep `Secure` cookies for them),
and no one on the network path can read or change that traffic: there is no path.
"""

from __future__ import annotations

from typing import Final

LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
