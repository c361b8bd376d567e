"""Reports published to a folder URL (FINFLOW_REPORTS_URL) through fsspec: real file systems (memory, local)."""

from __future__ import annotations

import fsspec
import pytest

from finflow_assets.reports.publish import REPORTS_URL_ENV, PublishError, publish


@pytest.fixture
def report_files(tmp_path):
    folder = tmp_path / "reports" / "2026-03-02"
    folder.mkdir(parents=True)
    csv = folder / "category_summary.csv"
    csv.write_text("category,money_out\nrent,1200.00\n", encoding="utf-8")
    html = folder / "category_summary.html"
    html.write_bytes("<!doctype html><p>Café 1 200,00 €</p>".encode())
    return [csv, html]


def test_files_land_under_the_day_at_a_memory_url(report_files):
    written = publish(report_files, "2026-03-02", "memory://finflow-test/reports")
    assert written == [
        "memory:///finflow-test/reports/2026-03-02/category_summary.csv",
        "memory:///finflow-test/reports/2026-03-02/category_summary.html",
    ]
    fs = fsspec.filesystem("memory")
    for path, url in zip(report_files, written, strict=True):
        assert fs.cat_file(url.removeprefix("memory://")) == path.read_bytes()
    fs.rm("/finflow-test", recursive=True)


def test_a_file_url_from_the_environment(report_files, tmp_path, monkeypatch):
    target = tmp_path / "published"
    monkeypatch.setenv(REPORTS_URL_ENV, target.as_uri())
    publish(report_files, "2026-03-02")
    copies = sorted((target / "2026-03-02").iterdir())
    assert [p.name for p in copies] == ["category_summary.csv", "category_summary.html"]
    assert [p.read_bytes() for p in copies] == [p.read_bytes() for p in report_files]


def test_nothing_is_published_without_a_url(report_files, monkeypatch):
    monkeypatch.delenv(REPORTS_URL_ENV, raising=False)
    assert publish(report_files, "2026-03-02") == []


def test_an_unusable_url_names_the_setting_and_hides_credentials(report_files):
    with pytest.raises(PublishError) as raised:
        publish(report_files, "2026-03-02", "nosuchfs://reporter:s3cret@host/reports")
    message = str(raised.value)
    assert message.startswith(f"{REPORTS_URL_ENV}=nosuchfs://***@host/reports: cannot open it")
    assert "s3cret" not in message and "reporter" not in message
