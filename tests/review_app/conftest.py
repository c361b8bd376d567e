"""A seeded review database shared by the workspace's tests (module scope: seeding hashes three passwords)."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_database


@pytest.fixture(scope="module")
def review_url(finflow_home):
    from finflow_assets.warehouse import connect

    from .seed import seed

    with fresh_database("test_review_app") as url:
        with connect(url, autocommit=True) as conn:
            seed(conn)
        yield url
