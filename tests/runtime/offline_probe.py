"""Run model conversion, loading, embedding and generation with every network socket blocked.

Used by tests/runtime/test_offline.py in a fresh subprocess (so nothing is preloaded). Prints a JSON list of
blocked attempts and exits 1 if there was any. `selftest` makes one attempt on purpose, to show the
guard itself works.
"""

import json
import socket
import sys

attempts: list[str] = []
_NETWORK = {socket.AF_INET, socket.AF_INET6}


def _blocked(what):
    def guard(*args, **kwargs):
        attempts.append(f"{what}{args[1:] if what.startswith('socket.') else args}")
        raise OSError(f"network access blocked by the offline test: {what}")

    return guard


_real_connect = socket.socket.connect


def _connect(self, address):
    if self.family in _NETWORK:
        attempts.append(f"connect{address}")
        raise OSError("network access blocked by the offline test: connect")
    return _real_connect(self, address)


socket.socket.connect = _connect
socket.socket.connect_ex = _connect
socket.create_connection = _blocked("create_connection")
socket.getaddrinfo = _blocked("getaddrinfo")

try:
    if sys.argv[1:] == ["selftest"]:
        import urllib.request

        try:
            urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
        except OSError:
            pass
    else:
        from ragft.runtime.models import generate, load_embedder, prepare_models

        prepare_models()
        vectors = load_embedder().encode(["offline check"])
        answer = generate("Say hello.", max_new_tokens=8)
        assert vectors.shape == (1, 384) and answer
finally:
    print(json.dumps(attempts))
sys.exit(1 if attempts else 0)
