"""The job queue and its history, in SQLite under ``--state``, so nothing is lost when the server dies.

Every submitted job, its state and every event it sent are rows; an event that ends a job is written in the
same transaction as the job's final state, so a client that reads ``done`` from the event stream and then
asks ``GET /v1/jobs/ID`` always sees ``done`` too. On start, jobs that were running when the server died go
back to the head of the queue and run again: the pipeline's resume skips the frames they had finished, with
``overwrite`` too (:meth:`Store.written_frames`; those whose cancel had been asked for end ``cancelled``).

Scheduling is round-robin between users (the user after the one served last goes next, each user's jobs in
submit order), so one artist with fifty jobs cannot starve the others; admission is bounded by
``max_queue`` in all and ``per_user`` waiting jobs per user, beyond which a submit is refused (429).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..protocol import events

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
#: The final event kind → the job state it leaves.
FINAL_STATES = {events.DONE: DONE, events.ERROR: FAILED, events.CANCELLED: CANCELLED}
#: How a running job whose cancel was asked for ends when its worker (or the server) is gone.
CANCELLED_WHILE_RUNNING = "cancelled; finished frames are kept"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    num INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    user TEXT NOT NULL,
    job TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    idempotency_key TEXT,
    interrupted INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress TEXT,
    final TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idem ON jobs(user, idempotency_key);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, num);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


class QueueFull(Exception):
    """The queue (or this user's share of it) is full: answer 429 with ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Limits:
    max_queue: int = 100
    per_user: int = 20
    history: int = 1000


class Store:
    def __init__(self, state_dir: str | Path, limits: Limits | None = None) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits or Limits()
        self._db = sqlite3.connect(
            str(self.dir / "queue.sqlite3"), check_same_thread=False, isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed job or event survives the server being killed (SIGKILL, OOM); only a
        # power cut may lose the last few events. Submits stay cheap under load.
        self._db.execute("PRAGMA synchronous=NORMAL")
        # A short write-ahead log, checkpointed every 64 pages and cut back to 256 KiB after: SQLite's 4 MB
        # default, which stays that size on disk, could fill a small --state disk by itself, and once the disk
        # is full a checkpoint (which writes to the database first) can no longer shrink it.
        self._db.execute("PRAGMA wal_autocheckpoint=64")
        self._db.execute("PRAGMA journal_size_limit=262144")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        #: Signalled when a job is queued or cancelled (dispatchers wait on it).
        self.changed = threading.Condition(self._lock)
        #: job id → last event seq; SSE streams poll this instead of the database.
        self._last_seq: dict[str, int] = {
            row["job_id"]: row["seq"]
            for row in self._db.execute("SELECT job_id, MAX(seq) AS seq FROM events GROUP BY job_id")
        }
        self._last_user = self._meta("last_user") or ""
        #: Seconds a job has taken recently (for Retry-After).
        self._recent_seconds = 30.0

    # -- small helpers -------------------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    @contextlib.contextmanager
    def _transaction(self):
        """All of the block's writes or none: a claim half made (running, never handed to a worker) would sit
        ``running`` for ever."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            # SQLite has already rolled back after some errors (a full disk): a ROLLBACK then fails too.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def shrink_log(self) -> None:
        """After a write failed for want of room: copy the write-ahead log into the database and empty it. The
        log grows to about 4 MB between SQLite's own checkpoints and a failed write does not checkpoint, so on
        a small or nearly full disk the log itself can keep every write failing after space came back."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def recover(self) -> list[str]:
        """After a crash: jobs that were running go back to the head of the queue, to resume (their ids).

        A running job whose cancel was asked for before the crash ends ``cancelled`` instead, as it would
        have had its worker died with the server still up: the user's cancel outlives a restart.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT id, cancel_requested FROM jobs WHERE state = ? ORDER BY num", (RUNNING,)
            ).fetchall()
            for row in rows:
                if row["cancel_requested"]:
                    self.add_event(row["id"], events.cancelled_event(CANCELLED_WHILE_RUNNING))
            ids = [row["id"] for row in rows if not row["cancel_requested"]]
            self._db.execute("UPDATE jobs SET state = ?, interrupted = 1 WHERE state = ?", (QUEUED, RUNNING))
            return ids

    # -- submit ---------------------------------------------------------------------------------------------
    def submit(self, user: str, job: dict[str, Any], idempotency_key: str | None = None) -> tuple[dict, bool]:
        """Queue ``job`` for ``user``; returns (the job's record, whether it is new).

        With an ``idempotency_key`` already used by this user, the job made then is returned, not a new one.
        """
        with self._lock:
            if idempotency_key:
                row = self._db.execute(
                    "SELECT * FROM jobs WHERE user = ? AND idempotency_key = ?", (user, idempotency_key)
                ).fetchone()
                if row:
                    return self._record(row), False
            queued = self._db.execute("SELECT COUNT(*) FROM jobs WHERE state = ?", (QUEUED,)).fetchone()[0]
            if queued >= self.limits.max_queue:
                raise QueueFull(
                    f"the queue is full ({queued} jobs waiting); try again later", self._retry_after(queued)
                )
            mine = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE state = ? AND user = ?", (QUEUED, user)
            ).fetchone()[0]
            if mine >= self.limits.per_user:
                raise QueueFull(
                    f"you have {mine} jobs waiting, the most one user may queue; try again when one has started",
                    self._retry_after(1),
                )
            job_id = uuid.uuid4().hex[:16]
            self._db.execute(
                "INSERT INTO jobs (id, user, job, state, created, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, user, json.dumps(job), QUEUED, time.time(), idempotency_key),
            )
            self.changed.notify_all()
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return self._record(row), True

    def _retry_after(self, jobs_ahead: int) -> int:
        return max(1, min(600, int(self._recent_seconds * max(1, jobs_ahead) / 4) + 1))

    # -- scheduling -----------------------------------------------------------------------------------------
    def _dispatch_order(self) -> list[sqlite3.Row]:
        """Queued jobs in the order they will start: interrupted ones first, then round-robin by user."""
        rows = self._db.execute(
            "SELECT * FROM jobs WHERE state = ? ORDER BY interrupted DESC, num", (QUEUED,)
        ).fetchall()
        first = [r for r in rows if r["interrupted"]]
        per_user: dict[str, list[sqlite3.Row]] = {}
        for r in rows:
            if not r["interrupted"]:
                per_user.setdefault(r["user"], []).append(r)
        users = sorted(per_user)
        # Start with the user after the one served last, cyclically.
        start = next((i for i, u in enumerate(users) if u > self._last_user), 0)
        users = users[start:] + users[:start]
        order = list(first)
        depth = 0
        while True:
            layer = [per_user[u][depth] for u in users if depth < len(per_user[u])]
            if not layer:
                return order
            order.extend(layer)
            depth += 1

    def claim_next(self) -> dict | None:
        """Mark the next job running and return it (None when nothing is queued)."""
        with self._lock:
            order = self._dispatch_order()
            if not order:
                return None
            row = order[0]
            with self._transaction():
                self._db.execute(
                    "UPDATE jobs SET state = ?, started = ? WHERE id = ?", (RUNNING, time.time(), row["id"])
                )
                if not row["interrupted"]:
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_user', ?)", (row["user"],)
                    )
            if not row["interrupted"]:
                self._last_user = row["user"]
            return self._record(self._db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone())

    def position(self, job_id: str) -> int | None:
        """How many queued jobs start before this one (0: it is next); None if it is not queued."""
        with self._lock:
            for i, row in enumerate(self._dispatch_order()):
                if row["id"] == job_id:
                    return i
            return None

    def wait_for_work(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)

    # -- events ---------------------------------------------------------------------------------------------
    def add_event(self, job_id: str, event: dict[str, Any]) -> int:
        """Append an event; a final one sets the job's final state in the same transaction."""
        with self._lock:
            seq = self._last_seq.get(job_id, 0) + 1
            kind = event.get("event")
            dropped: list[str] = []
            with self._transaction():
                self._db.execute(
                    "INSERT INTO events (job_id, seq, data) VALUES (?, ?, ?)",
                    (job_id, seq, json.dumps(event)),
                )
                if kind == events.PROGRESS:
                    self._db.execute("UPDATE jobs SET progress = ? WHERE id = ?", (json.dumps(event), job_id))
                elif kind in FINAL_STATES:
                    self._db.execute(
                        "UPDATE jobs SET state = ?, finished = ?, final = ? WHERE id = ?",
                        (FINAL_STATES[kind], time.time(), json.dumps(event), job_id),
                    )
                    dropped = self._trim_history(job_id)  # in the transaction: a failure retries it whole
            self._last_seq[job_id] = seq
            if kind in FINAL_STATES:
                for old in dropped:
                    self._last_seq.pop(old, None)
                self._note_duration(job_id)
                self.changed.notify_all()
            return seq

    def _note_duration(self, job_id: str) -> None:
        row = self._db.execute("SELECT started, finished FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row and row["started"] and row["finished"]:
            self._recent_seconds = 0.8 * self._recent_seconds + 0.2 * (row["finished"] - row["started"])

    def _trim_history(self, ending: str) -> list[str]:
        """Keep the ``history`` jobs that finished last; older ones and their events are dropped (their ids).

        By finish time, not submission: a long job that ends after jobs queued behind it (cancelled while it
        ran) was the oldest by submission and dropped by its own final event, so its follower found no final
        event and then no job. The job ``ending`` now is never dropped (whatever the clock did meanwhile)."""
        old = self._db.execute(
            f"SELECT id FROM jobs WHERE state IN ({','.join('?' * len(FINISHED))}) AND id != ? "
            "ORDER BY finished DESC, num DESC LIMIT -1 OFFSET ?",
            (*FINISHED, ending, max(0, self.limits.history - 1)),
        ).fetchall()
        for row in old:
            self._db.execute("DELETE FROM events WHERE job_id = ?", (row["id"],))
            self._db.execute("DELETE FROM jobs WHERE id = ?", (row["id"],))
        return [row["id"] for row in old]

    def last_seq(self, job_id: str) -> int:
        return self._last_seq.get(job_id, 0)

    def events_after(self, job_id: str, after: int) -> list[tuple[int, str]]:
        with self._lock:
            return [
                (r["seq"], r["data"])
                for r in self._db.execute(
                    "SELECT seq, data FROM events WHERE job_id = ? AND seq > ? ORDER BY seq", (job_id, after)
                )
            ]

    def written_frames(self, job_id: str) -> list[int]:
        """The frames the job reported written (its ``write`` events), in every run of it so far: what an
        interrupted job counts as its own writes, and with ``overwrite`` need not write again (see
        :func:`aifx_core.pipeline.fill`)."""
        frames: set[int] = set()
        for _, data in self.events_after(job_id, 0):
            event = json.loads(data)
            frame = event.get("frame")
            if (
                event.get("event") == events.PROGRESS
                and event.get("stage") == "write"
                and isinstance(frame, int)
            ):
                frames.add(frame)
        return sorted(frames)

    # -- reading and cancelling -----------------------------------------------------------------------------
    def get(self, job_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return self._record(row) if row else None

    def list(self, user: str | None, limit: int, offset: int) -> tuple[list[dict], int]:
        """A page of jobs, newest first (``user=None``: everybody's), and how many there are in all."""
        with self._lock:
            where, args = ("WHERE user = ?", (user,)) if user is not None else ("", ())
            total = self._db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM jobs {where} ORDER BY num DESC LIMIT ? OFFSET ?", (*args, limit, offset)
            ).fetchall()
            return [self._record(r) for r in rows], total

    def request_cancel(self, job_id: str) -> str:
        """Cancel a queued job now (returns ``cancelled``) or flag a running one (returns ``running``)."""
        with self._lock:
            row = self._db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return "missing"
            if row["state"] == QUEUED:
                self.add_event(job_id, events.cancelled_event("cancelled before it started"))
                return CANCELLED
            if row["state"] == RUNNING:
                self._db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
                return RUNNING
            return str(row["state"])

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                r["state"]: r["n"]
                for r in self._db.execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            }

    @staticmethod
    def _record(row: sqlite3.Row) -> dict:
        progress = json.loads(row["progress"]) if row["progress"] else None
        final = json.loads(row["final"]) if row["final"] else None
        record: dict[str, Any] = {
            "id": row["id"],
            "user": row["user"],
            "state": row["state"],
            "job": json.loads(row["job"]),
            "created": row["created"],
            "started": row["started"],
            "finished": row["finished"],
            "progress": progress,
            "cancel_requested": bool(row["cancel_requested"]),
            "interrupted": bool(row["interrupted"]),
        }
        if final is not None and final.get("event") == events.DONE:
            record["result"] = final
        elif final is not None:
            record["error"] = final
        return record
