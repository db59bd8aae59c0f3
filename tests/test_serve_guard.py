"""``aifx serve`` against what a web page in the artist's browser can send it: a real server on 127.0.0.1
without a token file (every caller is ``local``, the documented default) and one with a token file behind a
reverse proxy's host name."""

from __future__ import annotations

import pytest
from serve_helpers import TOKENS, Server, http, write_tokens
from shot_files import make_shot, shot_job

from aifx_core.protocol.remote import RemoteClient

#: What ``fetch(url, {method: 'POST', mode: 'no-cors', body})`` on another site sends: no CORS preflight.
PAGE_POST = {
    "Content-Type": "text/plain;charset=UTF-8",
    "Origin": "https://evil.example",
    "Referer": "https://evil.example/page.html",
    "Sec-Fetch-Mode": "no-cors",
    "Sec-Fetch-Site": "cross-site",
}


@pytest.fixture(scope="module")
def shot(tmp_path_factory):
    return make_shot(tmp_path_factory.mktemp("guard") / "shot", range(1, 3))


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("local") / "state").start()
    yield srv
    srv.stop()


def test_a_web_page_cannot_queue_a_job_on_a_server_without_tokens(local_server, shot, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "render.0001.exr").write_bytes(b"the artist's render")
    job = shot_job(shot, victim / "render.####.exr", overwrite=True).to_dict()
    status, _, body = http("POST", local_server.url + "/v1/jobs", body=job, headers=PAGE_POST)
    assert status == 403 and "web pages" in body["detail"] and "evil.example" in body["detail"]
    # Without the Origin header (an old browser, a form post) the text/plain body is still no job.
    plain = {"Content-Type": "text/plain;charset=UTF-8"}
    status, _, body = http("POST", local_server.url + "/v1/jobs", body=job, headers=plain)
    assert status == 415 and "application/json" in body["detail"]
    status, _, body = http("GET", local_server.url + "/v1/jobs", headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403 and "web pages" in body["detail"]
    assert local_server.client(None).jobs()["total"] == 0
    assert (victim / "render.0001.exr").read_bytes() == b"the artist's render"
    # The clients the adapters use still get in, by 127.0.0.1 and by localhost.
    assert local_server.client(None).submit(shot_job(shot, tmp_path / "out" / "c.####.exr").to_dict())["id"]
    by_name = RemoteClient(local_server.url.replace("127.0.0.1", "localhost"), None, timeout=30)
    assert by_name.jobs()["total"] == 1


def test_a_rebound_host_name_cannot_read_a_server_without_tokens(local_server):
    port = local_server.url.rsplit(":", 1)[1]
    status, _, body = http("GET", local_server.url + "/v1/jobs", headers={"Host": f"attacker.example:{port}"})
    assert status == 403 and "attacker.example" in body["detail"] and "--token-file" in body["detail"]
    for host in (f"localhost:{port}", "127.0.0.1", f"[::1]:{port}"):
        status, _, body = http("GET", local_server.url + "/v1/jobs", headers={"Host": host})
        assert status == 200, (host, body)


def test_a_token_server_behind_a_proxy_takes_the_studio_host_name(tmp_path, shot):
    srv = Server(tmp_path / "state", "--token-file", str(write_tokens(tmp_path / "tokens"))).start()
    try:
        proxied = {"Host": "aifx.studio.lan", "X-Forwarded-Proto": "https"}
        status, _, body = http("GET", srv.url + "/v1/jobs", "alice", headers=proxied)
        assert status == 200 and body["total"] == 0
        job = shot_job(shot, tmp_path / "out" / "c.####.exr").to_dict()
        status, _, body = http("POST", srv.url + "/v1/jobs", "alice", body=job, headers=proxied)
        assert status == 202, body
        # A page's request keeps its Origin through the proxy: refused here too, token or not.
        status, _, body = http(
            "POST", srv.url + "/v1/jobs", "alice", body=job, headers={**proxied, **PAGE_POST}
        )
        assert status == 403 and "web pages" in body["detail"]
        assert TOKENS["alice"] not in body["detail"]
    finally:
        srv.stop()
