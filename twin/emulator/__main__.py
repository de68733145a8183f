"""Try the providers by hand: `python -m twin.emulator` serves a primary and one mirror."""

from __future__ import annotations

import signal
import time

from . import Emulator


def main() -> None:
    # Ctrl-C stops it, also when started from a process that ignores SIGINT (nohup, a background
    # job): Python keeps an inherited SIG_IGN and would never raise KeyboardInterrupt. From here on
    # a Ctrl-C at any moment (making certificates, starting servers, printing) stops it cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        serve()
    except KeyboardInterrupt:
        pass


def serve() -> None:
    with Emulator() as emu:
        for key in ("PLAT", "OPS", "DOCS"):
            emu.add_project(key, repos=3)
        mirror = emu.add_mirror("syd", register_after_s=5.0)
        # flush: each line reaches a pipe (tee, a test) when printed, not when the emulator exits.
        print(f"primary:  {emu.primary_url}  (user admin, password s3cret)", flush=True)
        print(f"mirror:   {mirror.url}  (its registration request appears on the primary after 5 s)", flush=True)
        print(f"CA file:  {emu.ca_file}  (trust it, e.g. REQUESTS_CA_BUNDLE or the providers' ca_bundle)", flush=True)
        print("Ctrl-C to stop", flush=True)
        while True:
            time.sleep(1)


if __name__ == "__main__":
    main()
