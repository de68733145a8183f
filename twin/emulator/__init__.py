"""A Bitbucket Data Center primary and its mirrors, emulated over HTTPS on 127.0.0.1."""

from .server import Emulator, Faults, LoggedRequest
from .state import Mirror

__all__ = ["Emulator", "Faults", "LoggedRequest", "Mirror"]
