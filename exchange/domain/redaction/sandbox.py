"""Run untrusted parsing in a forked, resource-limited child process.

:func:`run_sandboxed` forks; the child confines itself, runs one function
and sends its return value back through a pipe; the parent waits with a
wall-clock deadline and turns every way the child can die into a one-line
:class:`UnsupportedFile` reason. One hostile file therefore fails that file
only: the worker, and the case's other files, go on.

Why fork (not spawn): the child reuses the parent's loaded detector model
copy-on-write, so a file costs a few milliseconds instead of a model load.

Invariants:

* The child confines itself before it runs the function: a new session (so
  the parent can kill every process it starts), death with the parent,
  ``RLIMIT_AS`` (address space), ``RLIMIT_CPU``, ``RLIMIT_NOFILE``,
  ``RLIMIT_FSIZE``, no core dumps, its working directory (and ``TMPDIR``) in
  ``workdir``, file descriptors it inherited (database and Redis sockets, log
  files) replaced by ``/dev/null``, and, where the kernel has Landlock,
  no file system writes outside ``workdir`` and ``/dev/null``, no TCP
  (ABI 4+) and no signals or abstract UNIX sockets outside the sandbox
  (ABI 6+). Programs it starts (tesseract, ffmpeg, soffice) inherit all of it.
* Confinement is reported, never assumed: :attr:`Sandboxed.confinement`
  says whether Landlock was enforced and at which ABI, or why not. Without
  Landlock the sandbox still runs (limits and timeout hold); writes are
  then not confined, and the facts say so.
* Whatever happens in the child, the parent ends with its whole process
  group killed and reaped: on success, on a deadline, on an exception in the
  parent (Ctrl-C in the CLI).
* Messages are one line and carry no document text and no traceback: a
  :class:`DomainError` comes back as the same class with the same message;
  any other exception becomes "internal error while redacting this file"
  and its traceback goes to the child's stderr.
* The parent unpickles the child's answer with an allow-list: only
  dataclasses from ``exchange.domain`` modules the parent has already
  imported, plus plain data. Large ``bytes`` (outputs) travel as files in
  ``workdir``, read back with ``O_NOFOLLOW`` and a size cap.
* Sandboxes do not nest: inside a child, :func:`run_sandboxed` calls the
  function directly.

Threat assumptions, and what this does NOT protect against:

* It bounds resources (memory, CPU, time, open files, file size) and
  contains crashes; it stops writes outside ``workdir`` only with Landlock.
* It does not hide anything from the child: the child is a copy of the
  worker, with its memory (settings, keys loaded in memory) and read access
  to every file the worker can read. A parser taken over by an exploit can
  read secrets; it cannot use the worker's inherited sockets, open TCP
  connections (Landlock ABI 4+) or write outside ``workdir``, but it can
  still reach UNIX sockets by path and send UDP. There is no seccomp filter.
* It cannot vouch for the child's answer: verification runs in the child,
  so a child under an attacker's control can return an unredacted output
  marked verified. The sandbox protects the worker's availability and the
  host, not the integrity of that one file's result.
* A grandchild that starts its own session escapes the process-group kill
  (it stays bound by the resource limits and Landlock).
* ``RLIMIT_CPU`` counts the child's own CPU time; each program it starts has
  its own budget of the same size. The wall clock bounds them all.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import logging
import os
import pickle
import platform
import re
import resource
import select
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from exchange.domain.errors import DomainError, UnsupportedFile

log = logging.getLogger(__name__)

T = TypeVar("T")

MiB = 2**20

INTERNAL_ERROR = "internal error while redacting this file"


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """What one sandboxed run may use. Sizes in bytes, times in seconds."""

    #: address space the child may add to the worker's own at fork (RLIMIT_AS
    #: is set to both together). Relative, so a larger spaCy model does not eat
    #: the engines' share; it counts reserved, mostly unused, space too: 8 MiB
    #: of stack and up to 64 MiB of malloc arena per thread.
    memory_bytes: int = 4 * 2**30
    #: CPU seconds of the child itself (RLIMIT_CPU); each program it runs gets as many
    cpu_seconds: int = 1800
    #: open file descriptors (RLIMIT_NOFILE)
    open_files: int = 256
    #: the largest file the child may write (RLIMIT_FSIZE)
    max_write_bytes: int = 2 * 2**30
    #: wall clock for the whole run, programs it starts included
    wall_seconds: float = 1800.0
    #: the most the parent accepts back (pipe and spilled outputs together)
    max_result_bytes: int = 2 * 2**30
    #: ``bytes`` at least this long travel as a file in ``workdir``, not in the pipe
    spill_bytes: int = 4 * MiB


@dataclass(frozen=True, slots=True)
class Sandboxed(Generic[T]):
    """The function's return value and how the child was confined (report facts)."""

    value: T
    confinement: dict[str, Any] = field(default_factory=dict)


# Set in the child only: a sandbox inside a sandbox runs the function in-process.
_inside = False


def inside_sandbox() -> bool:
    return _inside


def run_sandboxed(fn: Callable[..., T], *args: Any, limits: SandboxLimits, workdir: Path) -> Sandboxed[T]:
    """``fn(*args)`` in a confined child; see the module docstring.

    ``workdir`` must exist and be private to this run: the child may write
    there, and spilled outputs are read back from there.
    """
    if _inside:
        return Sandboxed(fn(*args), {"sandbox": "nested: ran inside the enclosing sandbox"})
    workdir = Path(workdir).resolve()
    read_fd, write_fd = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        # Otherwise text buffered before the fork could be written twice.
        stream.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover  (runs in the child, which never returns)
        os.close(read_fd)
        _child_main(fn, args, limits=limits, workdir=workdir, write_fd=write_fd, parent=parent)
    os.close(write_fd)
    started = time.monotonic()
    payload = b""
    verdict = ""
    try:
        payload, verdict = _collect(pid, read_fd, started + limits.wall_seconds, limits.max_result_bytes)
    finally:
        os.close(read_fd)
        _kill_group(pid)
        _, status, usage = os.wait4(pid, 0)
    if verdict == "timeout":
        raise UnsupportedFile(f"the file took longer than {limits.wall_seconds:g} seconds to process")
    if verdict == "too_big":
        raise UnsupportedFile("the file produced more output than allowed")
    message = _load(payload, workdir, limits) if payload else None
    if message is None:
        raise UnsupportedFile(_death_reason(status, usage.ru_utime + usage.ru_stime, limits))
    return _answer(message, limits)


# -- parent ------------------------------------------------------------------


def _collect(pid: int, read_fd: int, deadline: float, cap: int) -> tuple[bytes, str]:
    """Read the child's answer until it exits; ("", "timeout") or ("", "too_big") on a limit."""
    chunks: list[bytes] = []
    size = 0
    pidfd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(read_fd, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        pipe_open, exited = True, False
        while pipe_open and not exited:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"", "timeout"
            for fd, _ in poller.poll(left * 1000):
                if fd == pidfd:
                    exited = True
                    continue
                chunk = os.read(read_fd, 1 << 20)
                if not chunk:
                    pipe_open = False
                    poller.unregister(read_fd)
                    continue
                size += len(chunk)
                if size > cap:
                    return b"", "too_big"
                chunks.append(chunk)
        if pipe_open:
            # The child has exited; what it wrote is in the pipe. A grandchild that kept
            # the write end must not keep us waiting, so read without blocking.
            os.set_blocking(read_fd, False)
            while True:
                try:
                    chunk = os.read(read_fd, 1 << 20)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    return b"", "too_big"
                chunks.append(chunk)
        else:
            # EOF came first: wait for the exit itself, still against the deadline.
            ready = select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))[0]
            if not ready:
                return b"", "timeout"
    finally:
        os.close(pidfd)
    return b"".join(chunks), ""


def _kill_group(pid: int) -> None:
    # The child is not reaped yet, so its pid (= the group id) cannot have been reused.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _death_reason(status: int, cpu_used: float, limits: SandboxLimits) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_used >= limits.cpu_seconds):
            return f"the file needed more processing time than allowed ({limits.cpu_seconds} CPU seconds)"
        if sig == signal.SIGXFSZ:
            return "the file needed to write more data than allowed"
        return f"the file made the parser crash (signal {sig})"
    return f"the file made the parser crash (exit status {os.WEXITSTATUS(status)})"


def _answer(message: Any, limits: SandboxLimits) -> Any:
    if not isinstance(message, tuple) or not message:
        raise UnsupportedFile(INTERNAL_ERROR)
    kind = message[0]
    if kind == "ok" and len(message) == 3 and isinstance(message[2], dict):
        return Sandboxed(message[1], message[2])
    if kind == "domain" and len(message) == 4:
        raise _domain_error(*message[1:])
    if kind == "limit" and len(message) == 2:
        raise UnsupportedFile(_LIMIT_REASONS.get(message[1], INTERNAL_ERROR))
    raise UnsupportedFile(INTERNAL_ERROR)


_LIMIT_REASONS = {
    "memory": "the file needed more memory than allowed",
    "files": "the file needed more open files than allowed",
    "write": "the file needed to write more data than allowed",
}


def _domain_error(module: Any, qualname: Any, message: Any) -> DomainError:
    """The child's DomainError as the same class; only classes the parent already has."""
    text = str(message).splitlines()[0][:500] if str(message) else INTERNAL_ERROR
    cls: Any = sys.modules.get(str(module))
    for part in str(qualname).split("."):
        cls = getattr(cls, part, None)
    if not (isinstance(cls, type) and issubclass(cls, DomainError)):
        return UnsupportedFile(text)
    error = cls.__new__(cls)
    # Bypass subclass constructors (PolicyError adds a field prefix): the message is already final.
    DomainError.__init__(error, text)
    return error


_SPILL_NAME = re.compile(r"\.sandbox-out-\d{1,9}")


class _ConfinedUnpickler(pickle.Unpickler):
    """Unpickles only plain data and ``exchange.domain`` dataclasses the parent has loaded."""

    def __init__(self, data: bytes, workdir: Path, limits: SandboxLimits) -> None:
        super().__init__(io.BytesIO(data))
        self._workdir = workdir
        self._budget = limits.max_result_bytes - len(data)

    def find_class(self, module: str, name: str) -> Any:
        obj = None
        if module.startswith("exchange.domain.") and "." not in name:
            obj = getattr(sys.modules.get(module), name, None)
        if isinstance(obj, type) and is_dataclass(obj):
            return obj
        raise pickle.UnpicklingError(f"refused {module}.{name}")

    def persistent_load(self, pid: Any) -> bytes:
        if not (isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "spilled"):
            raise pickle.UnpicklingError("unknown persistent id")
        name = str(pid[1])
        if not _SPILL_NAME.fullmatch(name):
            raise pickle.UnpicklingError("bad spill name")
        fd = os.open(self._workdir / name, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > self._budget:
                raise pickle.UnpicklingError("spilled output too large")
            self._budget -= info.st_size
            data = handle.read(info.st_size + 1)
        if len(data) != info.st_size:
            raise pickle.UnpicklingError("spilled output changed size")
        os.unlink(self._workdir / name)
        return data


def _load(payload: bytes, workdir: Path, limits: SandboxLimits) -> Any:
    try:
        return _ConfinedUnpickler(payload, workdir, limits).load()
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError, AttributeError) as exc:
        log.exception("sandbox: unreadable answer from the child (%s)", type(exc).__name__)
        return ("internal",)


# -- child -------------------------------------------------------------------


def _child_main(  # pragma: no cover  (measured through the tests' children)
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    limits: SandboxLimits,
    workdir: Path,
    write_fd: int,
    parent: int,
) -> None:
    global _inside  # noqa: PLW0603  (the child's own copy of the module; the parent's stays False)
    code = 0
    try:
        _inside = True
        message: tuple[Any, ...] = ("internal",)
        try:
            confinement = _confine(limits, workdir, write_fd, parent)
            message = ("ok", fn(*args), confinement)
        except DomainError as exc:
            message = ("domain", type(exc).__module__, type(exc).__qualname__, exc.message)
        except MemoryError:
            message = ("limit", "memory")
        except OSError as exc:
            message = _os_error(exc)
        except RuntimeError as exc:
            # A thread's stack is address space too: under RLIMIT_AS this is how memory runs out.
            message = ("limit", "memory") if "can't start new thread" in str(exc) else _internal(exc)
        except BaseException:  # anything a parser raises fails the file, never the worker
            log.exception("sandbox: unexpected error in the sandboxed engine")
        _send(write_fd, message, workdir, limits)
    except BaseException:
        code = 70
        with contextlib.suppress(BaseException):
            log.exception("sandbox: the child could not answer")
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            # No atexit handlers, no finalisers of the parent's objects (database, Celery).
            os._exit(code)


def _os_error(exc: OSError) -> tuple[Any, ...]:
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return ("limit", "files")
    if exc.errno == errno.EFBIG:
        return ("limit", "write")
    if exc.errno == errno.ENOMEM:
        return ("limit", "memory")
    log.error("sandbox: unexpected OS error in the sandboxed engine", exc_info=exc)
    return ("internal",)


class _SpillingPickler(pickle.Pickler):
    def __init__(self, handle: io.BytesIO, workdir: Path, limits: SandboxLimits) -> None:
        super().__init__(handle, protocol=5)
        self._workdir = workdir
        self._limits = limits
        self._count = 0

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is not bytes or len(obj) < self._limits.spill_bytes:
            return None
        self._count += 1
        name = f".sandbox-out-{self._count}"
        try:
            (self._workdir / name).write_bytes(obj)
        except OSError:
            return None  # e.g. larger than RLIMIT_FSIZE: the pipe takes it
        return ("spilled", name)


def _send(write_fd: int, message: tuple[Any, ...], workdir: Path, limits: SandboxLimits) -> None:
    buffer = io.BytesIO()
    try:
        _SpillingPickler(buffer, workdir, limits).dump(message)
    except MemoryError:
        buffer = io.BytesIO(pickle.dumps(("limit", "memory"), protocol=5))
    except Exception:  # an unpicklable result is a bug in the engine, not the file
        log.exception("sandbox: the engine's result cannot be sent back")
        buffer = io.BytesIO(pickle.dumps(("internal",), protocol=5))
    view = buffer.getbuffer()
    while view:
        written = os.write(write_fd, view)
        view = view[written:]
    os.close(write_fd)


def _confine(limits: SandboxLimits, workdir: Path, write_fd: int, parent: int) -> dict[str, Any]:
    os.setsid()
    _die_with_parent(parent)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        # The worker's handlers (Celery's warm shutdown) mean nothing here.
        signal.signal(sig, signal.SIG_DFL)
    _neutralise_inherited_fds(keep={0, 1, 2, write_fd})
    with contextlib.suppress(OSError):
        # Under memory pressure the kernel should pick this child, not the worker.
        Path("/proc/self/oom_score_adj").write_text("1000")
    os.chdir(workdir)
    tmp = workdir / "tmp"
    tmp.mkdir(mode=0o700, exist_ok=True)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    sys.dont_write_bytecode = True
    _set_limit(resource.RLIMIT_CORE, 0)
    _set_limit(resource.RLIMIT_NOFILE, limits.open_files)
    _set_limit(resource.RLIMIT_FSIZE, limits.max_write_bytes)
    # Soft limit sends SIGXCPU (the reason we report); the hard one a second later is SIGKILL.
    _set_limit(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)
    address_space = _address_space() + limits.memory_bytes
    _set_limit(resource.RLIMIT_AS, address_space)
    landlock = restrict_writes(workdir)
    return {
        "sandbox": "process",
        "landlock": landlock,
        "limits": {
            "memory_mb": limits.memory_bytes // MiB,
            "address_space_mb": address_space // MiB,
            "cpu_seconds": limits.cpu_seconds,
            "open_files": limits.open_files,
            "max_write_mb": limits.max_write_bytes // MiB,
            "wall_seconds": limits.wall_seconds,
        },
    }


def _address_space() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[0]) * resource.getpagesize()


def _internal(exc: BaseException) -> tuple[Any, ...]:
    log.error("sandbox: unexpected error in the sandboxed engine", exc_info=exc)
    return ("internal",)


def _set_limit(which: int, soft: int, hard: int | None = None) -> None:
    _, current_hard = resource.getrlimit(which)
    wanted_hard = soft if hard is None else hard
    if current_hard != resource.RLIM_INFINITY:
        # An unprivileged process may lower its hard limit, never raise it.
        wanted_hard = min(wanted_hard, current_hard)
        soft = min(soft, current_hard)
    resource.setrlimit(which, (soft, wanted_hard))


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        # The parent died before prctl took effect.
        os._exit(70)


def _neutralise_inherited_fds(keep: set[int]) -> None:
    # dup2 of /dev/null (not close) keeps the numbers taken, so a later open()
    # cannot land on a number a parent object (a socket) still believes is its own.
    devnull = os.open(os.devnull, os.O_RDWR)
    keep = keep | {devnull}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep:
            continue
        try:
            os.fstat(fd)
        except OSError:
            continue  # the directory listing's own descriptor, already closed
        os.dup2(devnull, fd, inheritable=False)


# -- Landlock ----------------------------------------------------------------

_SYS_LANDLOCK = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}

_FS_WRITE_FILE = 1 << 1
_FS_REMOVE_DIR = 1 << 4
_FS_REMOVE_FILE = 1 << 5
_FS_MAKE_ALL = sum(1 << bit for bit in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_NET_TCP = (1 << 0) | (1 << 1)  # ABI 4: bind, connect
_SCOPE_ALL = (1 << 0) | (1 << 1)  # ABI 6: abstract UNIX sockets, signals
_PR_SET_NO_NEW_PRIVS = 38


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 12 bytes
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is unavailable."""
    numbers = _SYS_LANDLOCK.get(platform.machine())
    if numbers is None or not sys.platform.startswith("linux"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(numbers[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(0, int(version))


def restrict_writes(workdir: Path) -> str:
    """Confine this process (and its future children) to writes under ``workdir``.

    Reading and executing stay allowed everywhere. Returns a sentence for the
    report: what was enforced, or why nothing was.
    """
    numbers = _SYS_LANDLOCK.get(platform.machine())
    if numbers is None or not sys.platform.startswith("linux"):
        return f"unavailable: no Landlock on {sys.platform}/{platform.machine()}; writes are not confined"
    create, add_rule, restrict = numbers
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = landlock_abi()
    if abi < 1:
        reason = os.strerror(ctypes.get_errno()) or "not supported"
        return f"unavailable: the kernel refused Landlock ({reason}); writes are not confined"
    fs = _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE_ALL
    fs |= _FS_REFER if abi >= 2 else 0
    fs |= _FS_TRUNCATE if abi >= 3 else 0
    attr = _RulesetAttr(fs, _NET_TCP if abi >= 4 else 0, _SCOPE_ALL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        reason = os.strerror(ctypes.get_errno())
        return f"unavailable: creating the ruleset failed ({reason}); writes are not confined"
    try:
        file_rights = _FS_WRITE_FILE | (_FS_TRUNCATE if abi >= 3 else 0)
        for path, rights in ((workdir, fs), (Path(os.devnull), file_rights)):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneathAttr(rights, fd)
                _check(libc.syscall(add_rule, ctypes.c_int(ruleset), 1, ctypes.byref(rule), 0), "add_rule")
            finally:
                os.close(fd)
        _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
        _check(libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "restrict_self")
    except OSError as exc:
        # Half a confinement must not pass for a whole one: fail the file instead.
        raise RuntimeError(f"Landlock setup failed: {exc}") from exc
    finally:
        os.close(ruleset)
    extras = ["no TCP"] if abi >= 4 else []
    extras += ["no signals or abstract sockets outside the sandbox"] if abi >= 6 else []
    return f"enforced (ABI {abi}): writes only under the working directory" + (
        "; " + ", ".join(extras) if extras else ""
    )


def _check(result: int, what: str) -> None:
    if result < 0:
        raise OSError(ctypes.get_errno(), f"Landlock {what}")
