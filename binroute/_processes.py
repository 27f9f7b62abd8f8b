"""Run a call in another process: matrices, solves and simulations use a second core through this.

A :class:`Helper` runs one picklable call (a module-level function and its
arguments) in a fresh interpreter, ``python -P -m binroute._processes``:
``-P`` keeps the working directory off ``sys.path``, so a file or folder
there named like our package cannot stand in for it, and a plain
subprocess avoids multiprocessing's re-import of the caller's main module.

Big numpy arrays are not copied: the call is pickled with every array of at
least :data:`SHARE_MIN_BYTES` left out (pickle's ``persistent_id``), each
written once to a ``.npy`` file beside the pickle, and the helper maps them
read-only (``np.load(mmap_mode="r")``), sharing the operating system's pages;
an array referenced twice (the same matrix in two problems, or in two calls
of :func:`run_all`) is written and mapped once. A big array the call returns
comes back the same way, and :meth:`Helper.result` can read it straight into
the caller's array (``into``), with no pickled or mapped copy. A
:class:`Pool` runs several calls a few at a time (:func:`run_all`).

The result is the call's return value; an exception the call raised is raised
again here (its traceback in the helper chained as the cause);
:class:`HelperFailed` says that the helper died or gave no answer,
:class:`HelperTimeout` that it overran (it is killed). A call may report
progress: an argument :data:`TELL` becomes, in the helper, a function that
sends its argument back to the caller's ``on_message``.
"""

from __future__ import annotations

import os
import pickle
import selectors
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

#: Arrays at least this large travel as mapped files; smaller ones in the pickle.
SHARE_MIN_BYTES = 1 << 20
#: How much of a dead helper's standard error its :class:`HelperFailed` quotes.
STDERR_TAIL_CHARS = 2000


class HelperFailed(RuntimeError):
    """The helper process died or left no readable answer (the message quotes its exit code and stderr)."""


class HelperTimeout(HelperFailed, TimeoutError):
    """The helper process did not finish in time, and was killed."""


class RemoteTraceback(Exception):
    """The traceback, in the helper, of an exception raised again in the caller (its ``__cause__``)."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0])


class _Tell:
    """The type of :data:`TELL`."""

    def __repr__(self) -> str:
        return "TELL"


#: An argument standing in for a function that sends its one argument to the caller's ``on_message``.
TELL = _Tell()


@dataclass(frozen=True)
class Call:
    """A module-level ``func`` to call with ``args`` and ``kwargs`` (all picklable; :data:`TELL` allowed)."""

    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


class _Arrays:
    """Big arrays written to ``.npy`` files in ``folder``, each once (by identity), for one or more pickles."""

    def __init__(self, folder: Path, prefix: str = "array") -> None:
        self.folder = folder
        self.prefix = prefix
        self.saved: dict[int, tuple[str, np.ndarray]] = {}

    def name_of(self, obj: np.ndarray) -> str:
        key = id(obj)
        if key not in self.saved:
            name = f"{self.prefix}{len(self.saved)}.npy"
            np.save(self.folder / name, obj, allow_pickle=False)
            self.saved[key] = (name, obj)  # keeps obj alive, so its id is not reused meanwhile
        return self.saved[key][0]


class _Out(pickle.Pickler):
    def __init__(self, fh: IO[bytes], arrays: _Arrays) -> None:
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.arrays = arrays
        self.tells = False

    def persistent_id(self, obj: Any) -> str | None:
        if obj is TELL:
            self.tells = True
            return "tell"
        if not isinstance(obj, np.ndarray) or obj.nbytes < SHARE_MIN_BYTES or obj.dtype.hasobject:
            return None
        return self.arrays.name_of(obj)


class _In(pickle.Unpickler):
    def __init__(
        self, fh: IO[bytes], folder: Path, *, tell: Callable[[Any], None] | None = None, into: np.ndarray | None = None
    ) -> None:
        super().__init__(fh)
        self.folder = folder
        self.tell = tell
        self.into = into
        self.mapped: dict[str, np.ndarray] = {}

    def persistent_load(self, pid: Any) -> Any:
        name = str(pid)
        if name == "tell":
            return self.tell
        if name not in self.mapped:
            path = self.folder / Path(name).name
            if self.into is not None and _read_npy_into(path, self.into):
                self.mapped[name], self.into = self.into, None
            else:
                # A plain ndarray view of the mapping (no copy; the view keeps the mapping open).
                self.mapped[name] = np.asarray(np.load(path, mmap_mode="r"))
        return self.mapped[name]


def dump_job(path: Path, job: object) -> None:
    """Pickle ``job`` to ``path``, its large arrays to mapped files in the same folder."""
    with open(path, "wb") as fh:
        _Out(fh, _Arrays(path.parent)).dump(job)


def load_job(path: Path) -> Any:
    """Read back what :func:`dump_job` wrote, large arrays mapped read-only."""
    with open(path, "rb") as fh:
        return _In(fh, path.parent).load()


def _read_npy_into(path: Path, out: np.ndarray) -> bool:
    """Read the ``.npy`` array at ``path`` straight into ``out`` (no mapped or temporary copy).

    Returns whether the file held a C-ordered array of ``out``'s shape and
    dtype (``out`` is left partly written when the file is short).
    """
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(fh)
        if tuple(shape) != out.shape or fortran or dtype != out.dtype or not out.flags.c_contiguous:
            return False
        return fh.readinto(out.data.cast("B")) == out.nbytes


_FRAME = struct.Struct("<Q")


def _send(fd: int, message: Any) -> None:
    """In the helper: one message to the caller, length-prefixed, through the pipe ``fd``."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    os.write(fd, _FRAME.pack(len(data)) + data)


class Helper:
    """One :class:`Call` running in a fresh interpreter; see the module notes.

    Parameters
    ----------
    call
        What to run.
    folder
        Where the call, its arrays and its answer are written (default: a
        temporary folder, removed by :meth:`close`).
    arrays
        Arrays already written for another call in ``folder`` (see :func:`run_all`).
    on_message
        Receives what the call sends through :data:`TELL`, in this process,
        while :meth:`result` waits (or :meth:`pump` is called).
    name
        Names the call's files in ``folder``.
    """

    def __init__(
        self,
        call: Call,
        *,
        folder: Path | None = None,
        arrays: _Arrays | None = None,
        on_message: Callable[[Any], None] | None = None,
        name: str = "job",
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="binroute-")
            folder = Path(self._tmp.name)
        self.folder = folder
        self.on_message = on_message
        self._job = self.folder / f"{name}.pickle"
        self._answer = self.folder / f"{name}.answer"
        self._stderr = self.folder / f"{name}.stderr"
        try:
            with open(self._job, "wb") as fh:
                out = _Out(fh, arrays or _Arrays(self.folder))
                out.dump((call.func, tuple(call.args), dict(call.kwargs)))
        except BaseException:
            if self._tmp is not None:
                self._tmp.cleanup()
            raise
        self._channel: int | None = None
        self._buffer = b""
        write = -1
        if out.tells:
            self._channel, write = os.pipe()
        with open(self._stderr, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-m", "binroute._processes", str(self._job), str(self._answer), str(write)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                pass_fds=(write,) if write >= 0 else (),
            )
        if write >= 0:
            os.close(write)

    @property
    def channel(self) -> int | None:
        """The pipe's end the call's messages arrive on (``None`` once closed, or when the call sends none)."""
        return self._channel

    def pump(self) -> None:
        """Pass on the messages waiting in the pipe (blocks until some arrive or the pipe closes)."""
        if self._channel is None:
            return
        data = os.read(self._channel, 1 << 16)
        if not data:
            os.close(self._channel)
            self._channel = None
            return
        self._buffer += data
        while len(self._buffer) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(self._buffer)
            if len(self._buffer) < _FRAME.size + size:
                break
            message = pickle.loads(self._buffer[_FRAME.size : _FRAME.size + size])
            self._buffer = self._buffer[_FRAME.size + size :]
            if self.on_message is not None:
                self.on_message(message)

    def done(self) -> bool:
        """Whether the helper has exited and every message it sent was passed on."""
        return self._channel is None and self.process.poll() is not None

    def result(self, timeout_s: float | None = None, *, into: np.ndarray | None = None) -> Any:
        """Wait for the call's return value (at most ``timeout_s`` seconds).

        ``into``: for a call that returns an array of this shape and dtype,
        the array is read straight into ``into`` (and ``into`` returned).

        Raises
        ------
        HelperTimeout
            The helper overran ``timeout_s`` (it is killed).
        HelperFailed
            The helper died, left no answer, or returned an array that does not fit ``into``.
        Exception
            Whatever the call raised, its traceback in the helper as ``__cause__``.
        """
        until = None if timeout_s is None else time.monotonic() + timeout_s
        with selectors.DefaultSelector() as waiting:
            while self._channel is not None:
                waiting.register(self._channel, selectors.EVENT_READ)
                ready = waiting.select(None if until is None else max(0.0, until - time.monotonic()))
                waiting.unregister(self._channel)
                if not ready:
                    self._overran(timeout_s)
                self.pump()
        try:
            code = self.process.wait(None if until is None else max(0.0, until - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._overran(timeout_s)
        if code != 0 or not self._answer.exists():
            raise HelperFailed(f"the helper process ended with exit code {code} and no answer{self._stderr_tail()}")
        try:
            with open(self._answer, "rb") as fh:
                outcome = _In(fh, self.folder, into=into).load()
        except Exception as exc:
            raise HelperFailed(f"the helper's answer could not be read: {exc!r}") from exc
        if outcome[0] == "error":
            _, error, text = outcome
            raise error from RemoteTraceback(text)
        value = outcome[1]
        if into is not None and value is not into:
            if not isinstance(value, np.ndarray) or value.shape != into.shape or value.dtype != into.dtype:
                raise HelperFailed(f"the helper returned {type(value).__name__} {getattr(value, 'shape', '')}, "
                                   f"not an array of shape {into.shape} and dtype {into.dtype}")  # fmt: skip
            into[...] = value
            return into
        return value

    def _overran(self, timeout_s: float | None) -> NoReturn:
        self.kill()
        raise HelperTimeout(f"the helper process did not finish within {timeout_s:g} s and was killed")

    def _stderr_tail(self) -> str:
        try:
            text = self._stderr.read_text(errors="replace").strip()
        except OSError:
            return ""
        return f"; its last words:\n{text[-STDERR_TAIL_CHARS:]}" if text else ""

    def kill(self) -> None:
        """Stop the helper if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self._channel is not None:
            os.close(self._channel)
            self._channel = None

    def close(self) -> None:
        """Stop the helper and remove its temporary folder."""
        self.kill()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Helper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_helper(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Helper:
    """``func(*args, **kwargs)`` started in a helper process; use as a context manager, ask :meth:`Helper.result`."""
    return Helper(Call(func, args, kwargs))


class Pool:
    """Calls run in helper processes, ``workers`` at a time, their messages passed on in this thread.

    Use as a context manager: :meth:`submit` the calls, :meth:`relay` now and
    then while this process does work of its own (messages are passed on,
    finished helpers collected, waiting calls started), then ask
    :meth:`results`. The calls' big arrays are written once for all of them.
    Leaving the context stops every helper still running.
    """

    def __init__(self, *, workers: int, on_message: Callable[[Any], None] | None = None, poll_s: float = 0.2) -> None:
        self.workers = max(1, workers)
        self.on_message = on_message
        self.poll_s = poll_s
        self._tmp = tempfile.TemporaryDirectory(prefix="binroute-")
        self._arrays = _Arrays(Path(self._tmp.name))
        self._calls: list[Call] = []
        self._waiting: list[int] = []
        self._running: dict[int, Helper] = {}
        self._results: dict[int, Any] = {}
        self._ready = selectors.DefaultSelector()

    def submit(self, call: Call) -> None:
        """Queue ``call`` (started at once if a worker is free)."""
        self._calls.append(call)
        self._waiting.append(len(self._calls) - 1)
        self._start_waiting()

    def _start_waiting(self) -> None:
        while self._waiting and len(self._running) < self.workers:
            k = self._waiting.pop(0)
            helper = Helper(
                self._calls[k], folder=Path(self._tmp.name), arrays=self._arrays, on_message=self.on_message,
                name=f"job{k}",
            )  # fmt: skip
            self._running[k] = helper
            if helper.channel is not None:
                self._ready.register(helper.channel, selectors.EVENT_READ, helper)

    def relay(self, wait_s: float = 0.0) -> None:
        """Pass on the messages that came (waiting up to ``wait_s`` for some), collect the helpers that
        finished and start waiting calls in their place.

        Raises
        ------
        Exception
            The error of a call that failed (as :meth:`Helper.result` raises it).
        """
        if self._ready.get_map():
            for key, _ in self._ready.select(wait_s):
                helper = key.data
                channel = helper.channel
                helper.pump()
                if helper.channel is None:
                    self._ready.unregister(channel)
        elif wait_s and not any(h.done() for h in self._running.values()):
            time.sleep(wait_s)
        for k in [k for k, h in self._running.items() if h.done()]:
            helper = self._running.pop(k)
            self._results[k] = helper.result()
            helper.close()
        self._start_waiting()

    def results(self) -> list[Any]:
        """Wait for every call; their results in the order they were submitted."""
        while self._waiting or self._running:
            self.relay(self.poll_s)
        return [self._results[k] for k in range(len(self._calls))]

    def close(self) -> None:
        """Stop the helpers still running and remove the folder."""
        for helper in self._running.values():
            helper.kill()
        self._running.clear()
        self._ready.close()
        self._tmp.cleanup()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_all(
    calls: Sequence[Call], *, workers: int, on_message: Callable[[Any], None] | None = None, poll_s: float = 0.2
) -> list[Any]:
    """Run ``calls`` in helper processes, ``workers`` at a time; their results in the order of ``calls``.

    Messages sent through :data:`TELL` reach ``on_message`` in this process
    as they come. The first call to fail stops the others, and its error is
    raised (as :meth:`Helper.result` raises it).
    """
    with Pool(workers=workers, on_message=on_message, poll_s=poll_s) as pool:
        for call in calls:
            pool.submit(call)
        return pool.results()


def _main(job: str, answer: str, channel: str) -> None:
    """In the helper: run the pickled call at ``job``, write its outcome to ``answer``."""
    folder = Path(job).parent
    fd = int(channel)

    def tell(message: Any) -> None:
        _send(fd, message)

    with open(job, "rb") as fh:
        func, args, kwargs = _In(fh, folder, tell=tell if fd >= 0 else None).load()
    try:
        outcome: tuple[Any, ...] = ("ok", func(*args, **kwargs))
    except Exception as exc:
        error: BaseException = exc
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            error = HelperFailed(f"the call raised an exception that cannot travel back: {exc!r}")
        outcome = ("error", error, traceback.format_exc())
    if fd >= 0:
        os.close(fd)
    partial = Path(answer + ".part")
    with open(partial, "wb") as out:
        _Out(out, _Arrays(folder, prefix=Path(answer).stem + "-array")).dump(outcome)
    partial.replace(answer)


if __name__ == "__main__":
    # Through the package's own module, so what the helper raises pickles as binroute._processes.HelperFailed.
    from binroute._processes import _main as main

    main(*sys.argv[1:4])
