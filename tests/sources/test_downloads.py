"""A file-drop source fetched from its optional URL (the ECB's zip) over real local HTTP into its landing folder."""

from __future__ import annotations

import functools
import io
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from finflow_assets.sources.downloads import download_to_landing
from finflow_assets.sources.file_landing import pending_files
from finflow_assets.sources.parsers import get_parser
from finflow_assets.sources.registry import get_source

RATES = Path(__file__).parent / "deviations" / "eurofxref_daily__alehel-currencyconvert.csv"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        pass


@pytest.fixture
def site(tmp_path: Path):
    root = tmp_path / "site"
    root.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("eurofxref.csv", RATES.read_bytes())
    (root / "eurofxref.zip").write_bytes(buffer.getvalue())
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_lands_as_a_dropped_file(site: str, tmp_path: Path, monkeypatch) -> None:
    spec = get_source("fx_rates_ecb")
    folder = tmp_path / "landing" / spec.name
    assert download_to_landing(spec, folder) is None  # no URL configured: nothing to do
    monkeypatch.setenv(spec.download_url_env, f"{site}/eurofxref.zip")
    path = download_to_landing(spec, folder)
    assert path is not None and path.name.endswith("-eurofxref.zip")
    assert pending_files(spec, folder) == [path]
    parsed = get_parser(spec.format)(path.read_bytes(), path.name, spec.parser_options)
    assert len(parsed.records) == 31


def test_a_failed_download_is_skipped(site: str, tmp_path: Path, monkeypatch, caplog) -> None:
    spec = get_source("fx_rates_ecb")
    folder = tmp_path / "landing" / spec.name
    monkeypatch.setenv(spec.download_url_env, f"{site}/missing.zip?token=s3cret")
    assert download_to_landing(spec, folder) is None
    assert "HTTP 404" in caplog.text and "s3cret" not in caplog.text
    assert not folder.exists() or not any(folder.iterdir())
