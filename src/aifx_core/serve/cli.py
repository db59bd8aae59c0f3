"""``aifx serve [...]`` and ``aifx serve token add NAME --token-file FILE``."""

from __future__ import annotations

import argparse
import errno
import logging
import math
import os
import socket
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..arguments import path_argument
from ..protocol.errors import InputError
from ..protocol.job import check_current_folder, refuse_empty_path

DEFAULT_PORT = 8765


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "aifx" / "serve"


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the shared inference server (needs aifx-core[serve])",
        description="Serve fill jobs over HTTP to many Blender/Nuke seats from one GPU machine. See docs/serve.md.",
        # (argparse would end the usage in "token ...", as if every start needed it)
        usage="%(prog)s [options]\n       %(prog)s token add NAME --token-file FILE",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)"
    )
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 picks a free one)")
    path_argument(serve, "--token-file", help="users and tokens, 'NAME TOKEN' or 'NAME sha256:HEX' per line")
    path_argument(
        serve,
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="folder jobs may read and write under (repeatable); required off loopback",
    )
    serve.add_argument(
        "--max-queue", type=int, default=100, help="jobs waiting in all before 429 (default 100)"
    )
    serve.add_argument("--per-user", type=int, default=20, help="jobs one user may have waiting (default 20)")
    serve.add_argument(
        "--history",
        type=int,
        default=1000,
        help="finished jobs kept: the N that finished last (default 1000)",
    )
    path_argument(
        serve, "--path-map", metavar="RULES.json", help="OpenJD pathmapping-1.0 rules for client paths"
    )
    path_argument(serve, "--state", help=f"folder for the durable queue (default {default_state_dir()})")
    serve.add_argument(
        "--workers",
        default="auto",
        help="auto (one per visible GPU, else one on the CPU), cpu, or GPU indices such as 0,1",
    )
    serve.add_argument("--idle-unload", type=float, default=600.0, help="unload a model idle this long (s)")
    serve.add_argument("--version", action="version", version=f"aifx {__version__}")
    serve.add_argument("--heartbeat", type=float, default=15.0, help=argparse.SUPPRESS)
    # Seconds a client has to send a request's head, and a job's body (tests make them short).
    serve.add_argument("--header-timeout", type=float, default=15.0, help=argparse.SUPPRESS)
    serve.add_argument("--body-timeout", type=float, default=30.0, help=argparse.SUPPRESS)
    serve.set_defaults(handler=_cmd_serve)

    sub = serve.add_subparsers(
        dest="serve_command",
        title="commands (leave out to start the server)",
        metavar="token add",
        prog=serve.prog,  # (not the usage above, which argparse would otherwise put in front of each)
    )
    token = sub.add_parser(
        "token", help="manage the token file: 'aifx serve token add NAME --token-file FILE'"
    )
    token_sub = token.add_subparsers(dest="token_command", metavar="add", required=True)
    add = token_sub.add_parser(
        "add",
        help="make (or rotate) NAME's token: prints it once, stores its hash",
        description="Make (or rotate) a user's token: it is printed once, only its hash is stored in the file "
        "(the user's old token stops working). A running server re-reads the file.",
    )
    add.add_argument(
        "name",
        metavar="NAME",
        help="the user's name: letters, digits and _ . @ - (the server's jobs are listed under it)",
    )
    path_argument(
        add,
        "--token-file",
        required=True,
        dest="token_file_add",
        metavar="FILE",
        help="the token file aifx serve --token-file reads (made if it does not exist)",
    )
    add.set_defaults(handler=_cmd_token_add)


def _cmd_token_add(args: argparse.Namespace) -> int:
    from .auth import add_token

    # (a relative file from a deleted folder was "cannot write the token file (No such file or directory)")
    check_current_folder(args.token_file_add, f"--token-file {args.token_file_add}")
    token = add_token(args.token_file_add, args.name)
    print(token)
    print(
        f"aifx: token for {args.name} stored (hashed) in {args.token_file_add}; it is shown only this once",
        file=sys.stderr,
    )
    return 0


def _lock_state(state: Path):
    """One server per state folder (two would run each queued job twice). The OS drops the lock when the
    process dies, SIGKILL included, so a restart never finds a stale lock."""
    lock = open(state / "serve.lock", "w")  # noqa: SIM115 - held for the server's life
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; run one server per --state
        return lock
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise InputError(
            f"--state {state}: another aifx serve is using it; stop it or pick another --state"
        ) from None
    return lock


def _check_current_folder(args: argparse.Namespace) -> None:
    """Each relative path of the command line (--root, --state, --token-file, --path-map), where the folder aifx
    runs in is gone, is refused in the one line every command gives for that, naming the option: a relative
    --root there was "no such folder" and --state "cannot use it for the queue", as if the path were wrong."""
    given = [("--root", root) for root in args.root]
    given += [("--state", args.state), ("--token-file", args.token_file), ("--path-map", args.path_map)]
    for option, value in given:
        if value:
            check_current_folder(value, f"{option} {value}")


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .app import ServerConfig, create_app
        from .limits import AcceptFlood, raise_open_files
    except ImportError as exc:
        raise InputError(
            f"aifx serve needs the server extra ({exc.name} is missing); run: pip install 'aifx-core[serve]'"
        ) from None
    from .auth import TokenFile
    from .guard import is_loopback_host
    from .paths import load_path_map
    from .pool import Pool, worker_devices
    from .store import Limits, Store

    loopback = is_loopback_host(args.host)  # the rule the guard applies to Host, so both agree
    if not loopback and not args.token_file:
        raise InputError(
            f"--host {args.host} is reachable from other machines: give --token-file (and put TLS in front, "
            "see docs/serve.md), or bind 127.0.0.1"
        )
    if not loopback and not args.root:
        raise InputError(f"--host {args.host}: give --root DIR for the shared storage jobs may use")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: expected 1-65535 (or 0, which picks a free one)")
    _check_seconds(args)
    # --path-map "$RULES" with RULES unset started a server with no rules, without a word (as aifx run did).
    refuse_empty_path(
        args.path_map,
        "rules file",
        '--path-map ""',
        "to take the clients' paths as they are, or give a pathmapping-1.0 file such as rules.json",
    )
    _check_current_folder(args)
    devices = worker_devices(args.workers)  # (before the state folder is locked and its queue read)
    for value, name in (
        (args.max_queue, "--max-queue"),
        (args.per_user, "--per-user"),
        (args.history, "--history"),
    ):
        if value < 1:
            raise InputError(f"{name} must be at least 1")
    roots = []
    for root in args.root:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise InputError(f"--root {root}: no such folder")
        roots.append(path.resolve())
    tokens = TokenFile(args.token_file) if args.token_file else None
    rules = load_path_map(args.path_map) if args.path_map is not None else []
    state = Path(args.state).expanduser() if args.state else default_state_dir()
    if state.exists() and not state.is_dir():
        raise InputError(f"--state {state}: a file, not a folder; give a folder for the queue")
    try:
        state.mkdir(parents=True, exist_ok=True)
        lock = _lock_state(state)
    except OSError as exc:  # a read-only disk, a file of that name, no permission
        raise InputError(
            f"--state {state}: cannot use it for the queue ({exc.strerror}); give a folder this user may write to"
        ) from None

    logging.basicConfig(level=logging.INFO, format="aifx serve: %(message)s")
    logging.getLogger("asyncio").addFilter(AcceptFlood())
    open_files = raise_open_files()
    store = Store(state, Limits(args.max_queue, args.per_user, args.history))
    resumed = store.recover()
    pool = Pool(store, devices, idle_unload=args.idle_unload, roots=roots)
    config = ServerConfig(
        store, pool, tokens, roots, rules, heartbeat=args.heartbeat, body_timeout=args.body_timeout
    )
    app = create_app(config)

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        raise InputError(_bind_problem(args.host, args.port, exc)) from None
    sock.listen(128)
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    if not roots:
        print("aifx serve: no --root given: jobs may read and write anywhere this user can", file=sys.stderr)
    if resumed:
        print(f"aifx serve: resuming {len(resumed)} interrupted job(s)", file=sys.stderr)
    print(
        f"aifx serve: listening on http://{shown}:{port} with {len(pool.workers)} worker(s)",
        file=sys.stderr,
        flush=True,
    )
    pool.start()
    server = _uvicorn_server(uvicorn, app, pool, open_files, args.header_timeout)
    try:
        server.run(sockets=[sock])
    finally:
        pool.stop()
        store.close()
        lock.close()
    return 0


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    """Why the server cannot listen, naming the flag to change: a port taken, or a host that is not a name or
    address of this machine (a typo, another machine's address)."""
    if isinstance(exc, socket.gaierror):
        return (
            f"--host {host}: no such host ({exc.strerror}); give a name or address of this machine, "
            "e.g. 127.0.0.1, or 0.0.0.0 for every network"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"--host {host}: not an address of this machine ({exc.strerror}); give one of its addresses, "
            "e.g. 127.0.0.1, or 0.0.0.0 for every network"
        )
    return f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port"


def _check_seconds(args: argparse.Namespace) -> None:
    """Refuse a time option that is no number of seconds: ``--idle-unload nan`` was taken (only a negative one was
    refused) and the server started with a timer that never compares true; ``inf`` overflows the waits."""
    for value, name, zero in (
        (args.idle_unload, "--idle-unload", True),
        (args.heartbeat, "--heartbeat", False),
        (args.header_timeout, "--header-timeout", False),
        (args.body_timeout, "--body-timeout", False),
    ):
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            least = "0 or more" if zero else "more than 0"
            raise InputError(f"{name} {value:g}: expected seconds, {least}")


def _uvicorn_server(uvicorn: Any, app: Any, pool: Any, open_files: int, header_timeout: float) -> Any:
    """uvicorn's server, telling the pool the moment the exit signal (SIGTERM, Ctrl+C) arrives: the seconds of
    graceful shutdown that follow must neither fail the running job (a systemd stop sends the signal to the
    worker too) nor start the next one. Connections are bounded (:mod:`.limits`): a request head must arrive
    in ``header_timeout`` seconds, and beyond :func:`~.limits.concurrency_limit` connections the answer is 503."""
    from .limits import concurrency_limit, timed_h11

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            pool.begin_stop()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=3,
        http=timed_h11(header_timeout),
        limit_concurrency=concurrency_limit(open_files),
        backlog=128,  # as the socket listens; asyncio tries this many accepts each time it may
    )
    return Server(config)
