"""One end of the socket between the web server and a local worker: whole pickled messages, both ways."""

from __future__ import annotations

import pickle
import threading
from multiprocessing.connection import Connection


class MessageLink:
    """Sends whole pickled tuples from any thread, one at a time; receives them, with an optional timeout."""

    def __init__(self, fd: int):
        self.conn = Connection(fd)
        self._send_lock = threading.Lock()

    def send(self, message: tuple) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._send_lock:
            self.conn.send_bytes(payload)

    def recv(self, timeout: float | None = None) -> tuple:
        """The next message; TimeoutError if none came within `timeout` seconds, EOFError once the other end closed."""
        if timeout is not None and not self.conn.poll(timeout):
            raise TimeoutError("the other end did not answer in time")
        return pickle.loads(self.conn.recv_bytes())

    def close(self) -> None:
        self.conn.close()
