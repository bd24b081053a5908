"""``tinykws data stats`` and ``tinykws download``: output, safety, resuming, offline errors."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import socket
import tarfile
import threading
from pathlib import Path

import pytest

import tinykws.cli as cli
from fixtures import make_training_set, noise, pcm16_bytes, tone
from tinykws.data.download import download_speech_commands, safe_member_name
from tinykws.data.speech_commands import index_speech_commands
from tinykws.errors import TinyKWSError


@pytest.fixture(autouse=True)
def only_these_commands(monkeypatch):
    # Run the real CLI entry point with just the commands under test.
    monkeypatch.setattr(cli, "COMMANDS", ("data", "download"))


def _main(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- data stats -----------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_training_set(tmp_path_factory.mktemp("stats"), {"yes": 25, "no": 25, "bed": 20})


def test_stats_table_shows_layout_labels_and_counts(capsys, data_dir):
    code, out, _ = _main(capsys, "data", "stats", "--data", str(data_dir))
    assert code == 0
    assert "layout:      training" in out and "skipped:     0" in out
    assert "noise_0.wav (3.0 s)" in out and "noise_1.wav (2.5 s)" in out
    counts = index_speech_commands(data_dir).counts()
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.split() and line.split()[0] in ("_silence_", "_unknown_", "yes", "no", "total")}
    for label in ("_silence_", "_unknown_", "yes", "no"):
        row = [counts[s][label] for s in ("training", "validation", "testing")]
        assert rows[label] == [str(n) for n in (*row, sum(row))]


def test_stats_json(capsys, data_dir):
    code, out, _ = _main(capsys, "data", "stats", "--data", str(data_dir), "--json", "--words", "YES")
    summary = json.loads(out)
    assert code == 0 and summary["layout"] == "training"
    assert summary["labels"] == ["_silence_", "_unknown_", "yes"]
    assert summary["counts"] == index_speech_commands(data_dir, ("yes",)).counts()
    assert [Path(b["file"]).name for b in summary["background_files"]] == ["noise_0.wav", "noise_1.wav"]


def test_stats_on_a_missing_folder_is_a_one_line_error(capsys, tmp_path):
    code, out, err = _main(capsys, "data", "stats", "--data", str(tmp_path / "none"))
    assert code == 2 and out == ""
    assert err.startswith("tinykws: error:") and err.count("\n") == 1 and "none" in err


def test_stats_unknown_word_is_a_one_line_error(capsys, data_dir):
    code, _, err = _main(capsys, "data", "stats", "--data", str(data_dir), "--words", "yes,maybe")
    assert code == 2 and err.count("\n") == 1 and "available words: bed, no, yes" in err


def test_stats_resplit_of_the_real_test_set(capsys, real_test_dir):
    code, out, _ = _main(capsys, "data", "stats", "--data", str(real_test_dir), "--json",
                         "--words", "yes,no,up,down,left,right,on,off,stop,go", "--resplit-salt", "s1")
    summary = json.loads(out)
    assert code == 0 and summary["layout"] == "test-set" and len(summary["labels"]) == 12
    assert all(sum(summary["counts"][s].values()) > 0 for s in ("training", "validation", "testing"))
    assert sum(sum(c.values()) for c in summary["counts"].values()) == 3830


# -- download: archives and a local server ----------------------------------


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _tiny_archive() -> bytes:
    return _tar_gz({
        "./_background_noise_/white.wav": pcm16_bytes(noise(1.5)),
        "./yes/aaaa0000_nohash_0.wav": pcm16_bytes(tone(440.0)),
        "./no/aaaa0000_nohash_0.wav": pcm16_bytes(tone(554.4)),
        "./README.md": b"tiny\n",
    })


class _Server:
    """An HTTP server on 127.0.0.1 serving one archive, honouring Range if asked."""

    def __init__(self, payload: bytes, ranges: bool = True, cut_at: int | None = None):
        self.payload, self.ranges_seen = payload, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, status = server.payload, 200
                wanted = self.headers.get("Range")
                server.ranges_seen.append(wanted)
                if wanted and ranges:
                    start = int(wanted.split("=")[1].rstrip("-"))
                    body, status = server.payload[start:], 206
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if cut_at is None else body[:cut_at])

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/tiny.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_extracts_an_archive_served_over_http(capsys, tmp_path):
    with _Server(_tiny_archive()) as server:
        code, out, err = _main(capsys, "download", str(tmp_path / "sc"), "--url", server.url)
    assert code == 0, err
    root = tmp_path / "sc"
    assert (root / "tiny.tar.gz").read_bytes() == server.payload
    assert (root / "yes" / "aaaa0000_nohash_0.wav").read_bytes() == pcm16_bytes(tone(440.0))
    assert sorted(p.name for p in root.iterdir()) == [
        ".tiny.tar.gz.extracted", "README.md", "_background_noise_", "no", "tiny.tar.gz", "yes"]
    assert index_speech_commands(root).labels == ("_silence_", "_unknown_", "yes", "no")


def test_download_from_a_file_url_and_a_second_run_does_nothing(tmp_path):
    source = tmp_path / "tiny.tar.gz"
    source.write_bytes(_tiny_archive())
    dest = download_speech_commands(tmp_path / "sc", source.as_uri(), progress=False)
    (dest / "yes" / "aaaa0000_nohash_0.wav").unlink()
    download_speech_commands(dest, source.as_uri(), progress=False)  # marker present: no work
    assert not (dest / "yes" / "aaaa0000_nohash_0.wav").exists()


def test_download_resumes_a_partial_file_with_a_range_request(tmp_path):
    payload = _tiny_archive()
    dest = tmp_path / "sc"
    dest.mkdir()
    (dest / "tiny.tar.gz.part").write_bytes(payload[:1000])
    with _Server(payload) as server:
        download_speech_commands(dest, server.url, progress=False)
    assert server.ranges_seen == ["bytes=1000-"]
    assert (dest / "tiny.tar.gz").read_bytes() == payload
    assert not (dest / "tiny.tar.gz.part").exists()


def test_download_restarts_when_the_server_ignores_the_range(tmp_path):
    payload = _tiny_archive()
    dest = tmp_path / "sc"
    dest.mkdir()
    (dest / "tiny.tar.gz.part").write_bytes(b"garbage" * 100)
    with _Server(payload, ranges=False) as server:
        download_speech_commands(dest, server.url, progress=False)
    assert (dest / "tiny.tar.gz").read_bytes() == payload


def test_an_interrupted_download_keeps_the_part_file_to_resume(tmp_path):
    payload = _tiny_archive()
    with _Server(payload, cut_at=500) as server:
        with pytest.raises(TinyKWSError, match="run again to resume"):
            download_speech_commands(tmp_path, server.url, progress=False)
    assert (tmp_path / "tiny.tar.gz.part").read_bytes() == payload[:500]
    assert not (tmp_path / "tiny.tar.gz").exists()


def test_offline_is_a_one_line_error_with_exit_2(capsys, tmp_path):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/speech_commands_v0.02.tar.gz"
    code, out, err = _main(capsys, "download", str(tmp_path / "sc"), "--url", url)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"could not reach {url}" in err and "offline? Use --data DIR with a local copy" in err
    assert not (tmp_path / "sc").exists()  # no empty folder left behind


def test_http_error_is_a_one_line_error(tmp_path):
    with _Server(b"") as server:
        server.httpd.RequestHandlerClass.do_GET = lambda self: self.send_error(404)
        with pytest.raises(TinyKWSError, match="HTTP 404"):
            download_speech_commands(tmp_path, server.url, progress=False)


# -- download: verification and safe extraction -----------------------------


def _download_file(tmp_path, data: bytes, name="tiny.tar.gz"):
    source = tmp_path / name
    source.write_bytes(data)
    return download_speech_commands(tmp_path / "sc", source.as_uri(), progress=False)


def test_truncated_archive_is_refused_and_nothing_is_extracted(tmp_path):
    data = _tiny_archive()
    with pytest.raises(TinyKWSError, match="incomplete or corrupt"):
        _download_file(tmp_path, data[: len(data) - 20])
    assert sorted(p.name for p in (tmp_path / "sc").iterdir()) == ["tiny.tar.gz"]


def test_corrupt_gzip_crc_is_refused(tmp_path):
    data = bytearray(_tiny_archive())
    data[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    with pytest.raises(TinyKWSError, match="incomplete or corrupt"):
        _download_file(tmp_path, bytes(data))


def test_archive_without_speech_commands_folders_is_refused(tmp_path):
    with pytest.raises(TinyKWSError, match="not a Speech Commands archive"):
        _download_file(tmp_path, _tar_gz({"photos/cat.jpg": b"\xff\xd8"}))
    assert sorted(p.name for p in (tmp_path / "sc").iterdir()) == ["tiny.tar.gz"]


@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/evil.txt", "yes/../../evil.txt"])
def test_members_escaping_the_folder_are_refused(tmp_path, name):
    data = _tar_gz({"./_background_noise_/n.wav": b"x", name: b"evil"})
    with pytest.raises(TinyKWSError, match="unsafe path"):
        _download_file(tmp_path, data)
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_members_are_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("_background_noise_/link.wav")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(TinyKWSError, match="non-regular member"):
        _download_file(tmp_path, buffer.getvalue())


def test_official_archive_name_is_checked_against_the_published_size(tmp_path):
    with pytest.raises(TinyKWSError, match="2428923189"):
        _download_file(tmp_path, _tiny_archive(), name="speech_commands_v0.02.tar.gz")


def test_safe_member_names():
    assert safe_member_name("./yes/a.wav") == "yes/a.wav"
    assert safe_member_name(".") == ""
    for bad in ("../a", "/abs", "a/../../b"):
        with pytest.raises(TinyKWSError):
            safe_member_name(bad)


def test_gzip_of_the_tiny_archive_is_valid():
    # The fixture itself is a real gzip'd tar (guards the tests above).
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(_tiny_archive()))) as tar:
        assert "./yes/aaaa0000_nohash_0.wav" in tar.getnames()
