"""The embedded default's Celery broker: kombu's filesystem spool, with a wake-up instead of a 1 s poll.

kombu's filesystem transport finds new messages by listing the spool directory once per
`polling_interval` (1 s), so a push waited 0.5 s on average before the worker saw it. Here
every publisher (web, beat, the worker's own retries) also sends one datagram to a local
socket that the consuming worker waits on, so the worker wakes the moment a message file is
written and sleeps otherwise. The spool stays the truth: a lost or unsent datagram (no
worker listening yet, a second worker on the same spool) costs at most one poll interval.

A worker also waits when its prefetch is full (every reserved task still running): the
wake-ups that come meanwhile are drained without a look, so an ack or a reject, which frees
a slot, wakes the waiting consumer too (a pipe of its own), or a burst's later tasks would
each wait for the poll.

A message file appears under its final name only once it is whole (written beside it, then
renamed): kombu creates it empty and then writes, and a worker that looked in between read
an empty file and stopped ("Unrecoverable error: JSONDecodeError"), as bursts showed.

The socket is named after the spool folder: an abstract Unix socket on Linux (nothing on
disk, released when the worker dies), a socket file beside the spool elsewhere.
"""

import hashlib
import os
import select
import socket
import sys
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps
from kombu.transport.virtual.base import Empty


def wake_address(data_folder):
    """The worker's wake-up address for this spool folder, or None where Unix sockets are missing."""
    if not hasattr(socket, "AF_UNIX"):
        return None
    folder = os.path.realpath(data_folder)
    if sys.platform.startswith("linux"):
        return "\0kilopush-broker-" + hashlib.sha256(folder.encode()).hexdigest()[:32]
    path = os.path.join(os.path.dirname(folder), "broker-wake.sock")
    return path if len(path) < 100 else None


# One listener per spool and process (bound by the first connection that waits, kept for the
# process's life); None where another process listens already or sockets are missing.
_listeners = {}


def listener_for(data_folder):
    address = wake_address(data_folder)
    if address in _listeners or address is None:
        return _listeners.get(address)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        if not address.startswith("\0"):
            try:
                os.unlink(address)  # a socket file left by a worker that died
            except FileNotFoundError:
                pass
        listener.bind(address)
        listener.setblocking(False)
    except OSError:
        listener.close()  # another worker listens on this spool already: this one polls
        listener = None
    _listeners[address] = listener
    return listener


class QoS(virtual.QoS):
    """Freeing a prefetch slot wakes the consumer, which may be waiting only for that."""

    def ack(self, delivery_tag):
        super().ack(delivery_tag)
        self.channel.connection.slot_freed()

    def reject(self, delivery_tag, requeue=False):
        super().reject(delivery_tag, requeue=requeue)
        self.channel.connection.slot_freed()


class Channel(filesystem.Channel):
    QoS = QoS

    def _put(self, queue, payload, **kwargs):
        """kombu's _put, atomic: a reader lists only `<ms>_<uuid>.<queue>.msg` names, whole files."""
        filename = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, filename)
        partial = os.path.join(self.data_folder_out, f".{filename}.part")  # never matches a queue's name
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, path)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc
        self.connection.wake_consumer(self.data_folder_in)


class Transport(filesystem.Transport):
    Channel = Channel

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        self.wakeup = client.transport_options.get("wakeup", True)
        self._sender = None
        self._freed = None  # (read end, write end) of the pipe an ack writes to; made before the first look

    # --- publisher side ---

    def wake_consumer(self, data_folder):
        """Tells a waiting worker to look now; never fails (the poll is the fallback)."""
        if not self.wakeup:
            return
        address = wake_address(data_folder)
        if address is None:
            return
        try:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            self._sender.sendto(b"!", address)
        except OSError:
            pass  # nobody listening, or its buffer is full of wake-ups already

    # --- consumer side ---

    def slot_freed(self):
        """An ack or reject (often from another thread, Celery's result handler): the consumer may look again."""
        if self._freed is not None:
            try:
                os.write(self._freed[1], b"!")
            except OSError:
                pass  # the pipe is full of such wake-ups already

    def _listen(self, data_folder):
        if not self.wakeup:
            return None
        return listener_for(data_folder)

    def _freed_pipe(self):
        if self._freed is None and self.wakeup and sys.platform != "win32":  # Windows: select() takes no pipes
            self._freed = os.pipe()
            for fd in self._freed:
                os.set_blocking(fd, False)
        return self._freed

    def _wait(self, seconds):
        listener = self._listen(self._data_folder())
        waits = [s for s in (listener, self._freed and self._freed[0]) if s is not None]
        if not waits:
            if seconds > 0:
                select.select([], [], [], seconds)
            return
        ready, _, _ = select.select(waits, [], [], max(seconds, 0))
        if listener in ready:
            try:
                while listener.recv(64):
                    pass
            except OSError:
                pass  # drained
        if self._freed is not None and self._freed[0] in ready:
            try:
                while os.read(self._freed[0], 64):
                    pass
            except OSError:
                pass  # drained

    def _data_folder(self):
        return self.client.transport_options.get("data_folder_in", "data_in")

    def drain_events(self, connection, timeout=None):
        """kombu's virtual drain_events, waiting on the wake-up socket instead of sleeping."""
        started = monotonic()
        # Listen before the first look: a message written after it also leaves a datagram, and an ack a byte.
        self._listen(self._data_folder())
        self._freed_pipe()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                elapsed = monotonic() - started
                if timeout is not None and elapsed >= timeout:
                    raise socket.timeout()
                wait = self.polling_interval or 0
                if timeout is not None:
                    wait = min(wait, timeout - elapsed)
                self._wait(wait)

    def close_connection(self, connection):
        super().close_connection(connection)
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        if self._freed is not None:
            for fd in self._freed:
                os.close(fd)
            self._freed = None
