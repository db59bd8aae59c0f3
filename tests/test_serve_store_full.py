"""``aifx serve`` when its queue's database cannot grow for a while (a full disk under --state): a real SQLite
"database or disk is full", made by capping the database's pages (``PRAGMA max_page_count``) once its free
room is used up, with the app served by uvicorn on 127.0.0.1 in this process and one real CPU worker."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import subprocess
import sys
import threading

from serve_helpers import SignalAtQueued, http, wait_for
from shot_files import make_shot, shot_job

from aifx_core.protocol.remote import RemoteClient
from aifx_core.serve.app import ServerConfig, create_app
from aifx_core.serve.pool import Pool
from aifx_core.serve.store import Store


@contextlib.contextmanager
def serving(app):
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=30)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def fill_database(store: Store) -> None:
    """Use up the database's free room, then let it grow no more: every write that needs a page fails."""
    with store._lock:
        db = store._db
        db.execute("CREATE TABLE IF NOT EXISTS ballast (data BLOB)")
        db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
        for size in (4000, 1000, 200, 40, 8, 1):
            for _ in range(10_000):  # bounded: a page holds far fewer
                try:
                    db.execute("INSERT INTO ballast VALUES (zeroblob(?))", (size,))
                except Exception:
                    break


def free_database(store: Store) -> None:
    with store._lock:
        store._db.execute("PRAGMA max_page_count = 1073741823")


def test_a_full_queue_database_holds_jobs_up_until_it_has_room_again(tmp_path):
    shot = make_shot(tmp_path / "shot", range(1, 121))
    (tmp_path / "state").mkdir()
    # Small pages: a job's row spills onto pages of its own, so a submit too needs room the file no longer has.
    with contextlib.closing(sqlite3.connect(tmp_path / "state" / "queue.sqlite3")) as db:
        db.execute("PRAGMA page_size = 512")
        db.execute("VACUUM")
    store = Store(tmp_path / "state")
    pool = Pool(store, [""])
    try:
        with serving(create_app(ServerConfig(store, pool))) as url:
            pool.start()
            client = RemoteClient(url, None, timeout=30)
            first = client.submit(shot_job(shot, tmp_path / "a" / "c.####.exr").to_dict())["id"]
            wait_for(lambda: store.last_seq(first) >= 2, timeout=60)
            fill_database(store)
            # The next event the worker sends cannot be written: the health check says so.
            wait_for(lambda: http("GET", url + "/v1/health")[0] == 503, timeout=30)
            status, _, body = http("GET", url + "/v1/health")
            assert body["status"] == "failing" and "full" in body["problems"][0]
            job = shot_job(shot, tmp_path / "b" / "c.####.exr", frames="1-3").to_dict()
            status, headers, body = http("POST", url + "/v1/jobs", body=job)
            assert status == 503 and int(headers["Retry-After"]) >= 1 and "try again" in body["detail"]
            assert client.job(first)["state"] == "running"
            assert all(worker.thread.is_alive() for worker in pool.workers)
            # aifx submit waits as the 503's Retry-After says, as for a full queue, with the same job.
            (tmp_path / "c.json").write_text(
                json.dumps({**job, "output": str(tmp_path / "c" / "c.####.exr")})
            )
            log = tmp_path / "submit.log"
            with open(log, "w") as err:
                submit = subprocess.Popen(
                    [sys.executable, "-m", "aifx_core", "submit", str(tmp_path / "c.json"), "--server", url],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            wait_for(lambda: "retrying in" in log.read_text(), timeout=60)

            free_database(store)
            assert submit.wait(timeout=120) == 0, log.read_text()
            second = client.submit(job)["id"]
            assert [e["event"] for e in client.events(first, patience=60)][-1] == "done"
            assert [e["event"] for e in client.events(second, patience=60)][-1] == "done"
            seqs = [seq for seq, _ in store.events_after(first, 0)]
            assert seqs == list(range(1, len(seqs) + 1))  # none lost, none twice
            assert len(list((tmp_path / "a").glob("c.*.exr"))) == 120
            status, _, body = http("GET", url + "/v1/health")
            assert status == 200 and body["status"] == "ok" and body["jobs"] == {"done": 3}
    finally:
        pool.stop()
        store.close()


def test_a_cancel_between_the_claim_and_the_run_command_is_not_lost(tmp_path):
    """An interrupted --overwrite job reads its written frames from the queue after its claim; a moment's I/O
    error there lets go of the lock for half a second, and a DELETE landing then must still stop the job."""
    shot = make_shot(tmp_path / "shot", range(1, 41))
    store = Store(tmp_path / "state")
    job = shot_job(shot, tmp_path / "out" / "c.####.exr", overwrite=True).to_dict()
    job_id = store.submit("local", job)[0]["id"]
    store.claim_next()
    store.recover()  # the server was killed while it ran: it resumes, its written frames read first
    pool = Pool(store, [""])
    read_once = threading.Event()
    real_written_frames = store.written_frames

    def written_frames(job_id: str) -> list[int]:
        if not read_once.is_set():
            read_once.set()
            raise sqlite3.OperationalError("disk I/O error")  # what SQLite says for a moment's I/O error
        return real_written_frames(job_id)

    store.written_frames = written_frames  # type: ignore[method-assign]
    try:
        pool.start()
        assert read_once.wait(timeout=60)
        assert pool.cancel(job_id) == "running"  # in the dispatcher's pause before it tries again
        wait_for(lambda: store.get(job_id)["state"] not in ("queued", "running"), timeout=120)
        assert store.get(job_id)["state"] == "cancelled"
        assert not list((tmp_path / "out").glob("c.*.exr"))
    finally:
        pool.stop()
        store.close()


def test_an_interrupted_submit_the_server_cannot_answer_says_its_job_may_still_run(tmp_path):
    """A farm's SIGTERM right after the server had queued the job, its id unread: aifx submit asks again with
    the same idempotency key to learn the job to cancel. A 503 from the queue's database there (it could not
    look the key up) was read as a full queue's "no job": "...; nothing was queued", exit 130, while the job it
    had sent waited in the queue and would run. It says the server could not answer and the job may still run,
    naming it by its output and how to cancel it. (The database is made to refuse by pointing the store's
    connection at an empty file once the job is queued: a real sqlite3.OperationalError, the real 503.)"""
    import signal

    shot = make_shot(tmp_path / "shot", range(1, 4))
    store = Store(tmp_path / "state")
    pool = Pool(store, [""])  # (never started: the job stays queued, the test's to look at)
    held = {}

    def refuse_reads() -> None:
        with store._lock:
            held["db"] = store._db
            store._db = sqlite3.connect(tmp_path / "empty.sqlite3", check_same_thread=False)

    output = tmp_path / "out" / "c.####.exr"
    shot_job(shot, output).save(tmp_path / "job.json")
    try:
        with serving(create_app(ServerConfig(store, pool))) as url:
            proxy = SignalAtQueued(url, signal.SIGTERM, on_fire=refuse_reads)
            command = [sys.executable, "-m", "aifx_core", "submit", str(tmp_path / "job.json")]
            proc = subprocess.Popen(
                [*command, "--server", proxy.url],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            proxy.pid = proc.pid
            try:
                _, said = proc.communicate(timeout=120)
            finally:
                proxy.close()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            with store._lock:
                store._db.close()
                store._db = held["db"]
            queued = [j for j in RemoteClient(url, None).jobs()["jobs"] if j["job"]["output"] == str(output)]
    finally:
        store.close()
    assert proxy.fired.is_set() and "interrupted while sending the job" in said, said  # (the window hit)
    assert [j["state"] for j in queued] == ["queued"]  # the job the server could not answer for
    assert proc.returncode == 130 and "nothing was queued" not in said, said
    last = said.strip().splitlines()[-1]
    assert "could not answer" in last and "may still run" in last and str(output) in last, last
    assert f"DELETE {proxy.url}/v1/jobs/ID" in last, last
