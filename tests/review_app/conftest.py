"""A seeded review database shared by the workspace's tests (module scope), with cheap password hashes: the
production cost (scrypt at OWASP's minimum, ~0.5-1 s a hash) is checked once, in test_app.py."""

from __future__ import annotations

import pytest

from tests.conftest import fresh_database

TEST_COST = (2**10, 8, 1)


@pytest.fixture(scope="module", autouse=True)
def cheap_password_hashes():
    from finflow_assets.review_app import users

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "COST", users.ScryptCost(*TEST_COST))
        yield


@pytest.fixture(scope="module")
def review_url(finflow_home, cheap_password_hashes):
    from finflow_assets.warehouse import connect

    from .seed import seed

    with fresh_database("test_review_app") as url:
        with connect(url, autocommit=True) as conn:
            seed(conn)
        yield url
