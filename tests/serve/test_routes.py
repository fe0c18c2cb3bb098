"""Pages, API and media of `archivetag serve`, through Starlette's test client, on SQLite
and PostgreSQL."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.serve.conftest import app_for


def cli_json(cli, served, *args: str):
    result = cli(*args, "--json", "--db", served.settings.database_url(),
                 "--data-dir", str(served.data_dir))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def file_id(client, archive: Path, name: str) -> int:
    hits = client.get("/api/search", params={"q": f"path:{archive / name}"}).json()["results"]
    return hits[0]["file_id"]


def test_search_api_answers_what_the_cli_prints_plus_media_urls(client, cli, served):
    answer = client.get("/api/search", params={"q": "dog", "mode": "keyword"}).json()
    printed = cli_json(cli, served, "search", "dog", "--mode", "keyword")
    assert [{k: hit[k] for k in printed[0]} for hit in answer["results"]] == printed
    assert len(printed) == 2
    for hit in answer["results"]:
        assert hit["media_url"] == f"/media/{hit['file_id']}#t={hit['start']:g}"


def test_search_page_groups_hits_by_file_with_the_query_in_the_url(client):
    page = client.get("/", params={"q": "dog", "mode": "keyword"})
    assert page.status_code == 200
    assert 'value="dog"' in page.text
    assert page.text.count('<section class="file">') == 1  # both dog hits are in tone.wav
    assert "A dog barks repeatedly" in page.text and "A dog howls at night" in page.text
    assert "00:00:20–00:00:30" in page.text
    assert "2 results" in page.text


def test_filters_as_form_fields_and_in_the_query(client, archive):
    by_field = client.get("/api/search", params={"q": "sound", "tag": "bell"}).json()["results"]
    by_term = client.get("/api/search", params={"q": "sound tag:bell"}).json()["results"]
    assert [h["caption"] for h in by_field] == ["Church bells ring in the distance"]
    assert by_term == by_field
    videos = client.get("/api/search", params={"q": "cars", "type": "video"}).json()["results"]
    assert {h["path"] for h in videos} == {str(archive / "clip.webm")}


def test_a_transcoded_file_s_hit_starts_its_stream_at_the_hit(client, archive):
    hit = client.get("/api/search", params={"q": "bells", "mode": "keyword"}).json()["results"][0]
    assert hit["transcoded"] is True
    assert hit["media_url"] == f"/media/{hit['file_id']}?start=12"


def test_a_query_that_cannot_run_is_one_line_not_a_traceback(client):
    api = client.get("/api/search", params={"q": "dog", "duration": "ten"})
    assert api.status_code == 400 and "duration" in api.json()["error"]
    page = client.get("/", params={"q": "dog", "mode": "fuzzy"})
    assert page.status_code == 400 and "mode must be one of" in page.text


def test_an_index_that_cannot_answer_is_the_server_s_503_and_keyword_mode_still_works(served):
    [index_file] = (served.data_dir / "index").glob("*.faiss")
    index_file.unlink()
    with TestClient(app_for(served), base_url="http://localhost:8765") as client:
        api = client.get("/api/search", params={"q": "dog"})
        assert api.status_code == 503, api.text
        assert "archivetag index update" in api.json()["error"]
        assert "keyword mode works without it" in api.json()["error"]
        assert client.get("/", params={"q": "dog"}).status_code == 503
        keyword = client.get("/api/search", params={"q": "dog", "mode": "keyword"})
        assert keyword.status_code == 200 and keyword.json()["results"]


def test_pages_of_twenty(served, client, archive):
    wav = str(archive / "tone.wav")
    served.load([{"path": wav, "start": 100 + i, "end": 101 + i, "caption": f"a whistle {i}"}
                 for i in range(45)])
    pages = [client.get("/api/search", params={"q": "whistle", "mode": "keyword", "page": n}).json()
             for n in (1, 2, 3)]
    assert [len(p["results"]) for p in pages] == [20, 20, 5]
    assert [p["more"] for p in pages] == [True, True, False]
    seen = [h["segment_id"] for p in pages for h in p["results"]]
    assert len(set(seen)) == 45
    html = client.get("/", params={"q": "whistle", "mode": "keyword", "page": 2}).text
    assert "page=3" in html and "page=1" in html


def test_file_page_and_api(client, cli, served, archive):
    wav = archive / "tone.wav"
    number = file_id(client, archive, "tone.wav")
    answer = client.get(f"/api/files/{number}").json()
    printed = cli_json(cli, served, "show", str(wav))
    assert {k: answer[k] for k in printed} == printed
    assert answer["media_url"] == f"/media/{number}" and answer["transcoded"] is False
    page = client.get(f"/files/{number}")
    assert page.status_code == 200
    assert str(wav) in page.text and "Heavy rain falls on a tin roof" in page.text
    assert '<svg class="timeline"' in page.text and f"/files/{number}/export.vtt" in page.text
    assert page.text.count('class="tagbar"') == 5  # dog at 0-10 and at 20-30, bark, speech, rain
    vtt = client.get(f"/files/{number}/export.vtt")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT") and "00:00:10.000 --> 00:00:20.000" in vtt.text
    srt = client.get(f"/files/{number}/export.srt").text
    assert srt.startswith("1\n00:00:00,000 --> 00:00:10,000")


def test_tags_and_status_answer_what_the_cli_prints(client, cli, served):
    tags = client.get("/api/tags").json()
    printed = cli_json(cli, served, "tags")
    assert [{k: row[k] for k in printed[0]} for row in tags] == printed
    assert tags[0]["tag"] == "dog" and tags[0]["search_url"] == "/?tag=dog"
    assert '<a href="/?tag=dog">dog</a>' in client.get("/tags").text
    status = client.get("/api/status").json()
    printed = cli_json(cli, served, "status")
    assert {k: status[k] for k in printed} == printed
    page = client.get("/status").text
    assert f"{printed['segments']} ({printed['silent_segments']} silent)" in page
    assert f"<th>index</th><td>{printed['index']['vectors']} vectors, up to date</td>" in page
    from archivetag.storage.queries import finish_run, start_run

    with served.database.sessions() as session:  # as a nightly ingest records itself
        finish_run(session, start_run(session, "ingest", ["/archive"]), "done",
                   {"files": {"done": 3, "failed": 1, "skipped": 0}})
    assert "</td><td>3 done, 1 failed</td></tr>" in client.get("/status").text
    assert "no failed, partly read or skipped files" in page


def test_the_api_is_described_as_openapi(client):
    schema = client.get("/api/openapi.json").json()
    assert set(schema["paths"]) == {"/api/search", "/api/files/{file_id}", "/api/tags",
                                    "/api/status"}
    assert "q" in {p["name"] for p in schema["paths"]["/api/search"]["get"]["parameters"]}


def test_media_is_served_with_ranges_and_its_type(client, archive):
    number = file_id(client, archive, "tone.wav")
    data = (archive / "tone.wav").read_bytes()
    whole = client.get(f"/media/{number}")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "audio/wav"
    part = client.get(f"/media/{number}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    video = client.get(f"/media/{file_id(client, archive, 'clip.webm')}", headers={"Range": "bytes=0-3"})
    assert video.status_code == 206 and video.headers["content-type"] == "video/webm"
    assert video.content == (archive / "clip.webm").read_bytes()[:4]


def test_transcoded_media_is_mp3_from_the_requested_second(client, archive):
    number = file_id(client, archive, "tone.wma")
    from_start = client.get(f"/media/{number}")
    late = client.get(f"/media/{number}", params={"start": 30})
    assert from_start.headers["content-type"] == "audio/mpeg"
    for body in (from_start.content, late.content):
        assert body[:3] == b"ID3" or body[0] == 0xFF
    assert 0 < len(late.content) < len(from_start.content) / 2  # the last 10 of 40 s
    assert client.get(f"/media/{number}", params={"start": "soon"}).status_code == 400


@pytest.mark.parametrize("path", [
    "/media/999999", "/media/-1", "/media/..%2f..%2fetc%2fpasswd", "/media/%2e%2e/etc/passwd",
    "/files/999999", "/files/..%2f1", "/static/..%2f..%2fconfig.py", "/static/%2e%2e/app.py",
    "/api/files/999999", "/etc/passwd", "/media/1/../../../etc/passwd",
])
def test_traversal_and_unknown_ids_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and "import" not in response.text


def test_a_catalogued_symlink_out_of_its_root_is_not_served(served, tmp_path, archive):
    from sqlalchemy import update

    from archivetag.storage.schema import MediaFile, Root

    root = tmp_path / "root"
    root.mkdir()
    (root / "inside.wav").symlink_to(archive / "tone.wav")  # points out of the root
    served.load([{"path": str(root / "inside.wav"), "start": 0, "end": 5, "caption": "a leak"}])
    with served.database.sessions() as session:
        session.add(Root(path=os.fsencode(root), display_path=str(root)))
        session.flush()
        root_id = session.query(Root.id).scalar()
        session.execute(update(MediaFile).where(MediaFile.path == os.fsencode(root / "inside.wav"))
                        .values(root_id=root_id))
        session.commit()
    with TestClient(app_for(served), base_url="http://localhost") as client:
        hit = client.get("/api/search", params={"q": "leak", "mode": "keyword"}).json()["results"][0]
        assert client.get(f"/media/{hit['file_id']}").status_code == 404


def test_captions_holding_markup_are_escaped(served, client, archive):
    served.load([{"path": str(archive / "tone.wav"), "start": 35, "end": 40,
                  "caption": 'a <script>alert("x")</script> <img src=x onerror=alert(1)> \u202e\ufffd tune',
                  "tags": ["<b>bold</b>"]}])
    for url in ("/?q=tune&mode=keyword", f"/files/{file_id(client, archive, 'tone.wav')}", "/tags"):
        page = client.get(url).text
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page
        assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in client.get("/?q=tune&mode=keyword").text


def test_every_answer_carries_the_security_headers(client, archive):
    for url in ("/", "/api/tags", "/static/app.js", f"/media/{file_id(client, archive, 'tone.wav')}",
                "/no-such-page"):
        headers = client.get(url).headers
        assert "default-src 'none'" in headers["content-security-policy"], url
        assert headers["x-content-type-options"] == "nosniff"


def test_no_write_endpoints_and_no_foreign_hosts(client):
    assert client.post("/api/search", data={"q": "dog"}).status_code == 405
    assert client.delete("/api/files/1").status_code == 405
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"Host": "127.0.0.1:8765"}).status_code == 200


def test_off_loopback_every_request_needs_the_token(served, archive):
    app = app_for(served, host="192.0.2.7", token="s3cret")
    with TestClient(app, base_url="http://192.0.2.7:8765") as client:
        for url in ("/", "/api/search?q=dog", "/media/1", "/static/app.js", "/files/1"):
            assert client.get(url).status_code == 401, url
        assert client.get("/api/tags", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/tags", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        signed_in = client.get("/?q=dog&token=s3cret", follow_redirects=False)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/?q=dog"
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert client.get("/?q=dog").status_code == 200  # the client kept the cookie
        assert client.get(f"/media/{file_id(client, archive, 'tone.wav')}").status_code == 200


def test_serve_refuses_a_public_address_without_a_token(cli, tmp_path):
    result = cli("serve", "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "serve.token" in result.stderr and "ARCHIVETAG_SERVE_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    empty = tmp_path / "token"
    empty.write_text("\n")
    result = cli("serve", "--host", "0.0.0.0", "--token-file", str(empty))
    assert result.exit_code == 2 and "is empty" in result.stderr

