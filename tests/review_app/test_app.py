"""The review workspace over real HTTP semantics (Starlette's test client) on a real PostgreSQL: sign-in, roles,
CSRF, decisions through ``intelligence.review``, undo, rules, and hostile input staying inert."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from finflow_assets.review_app.app import create_app
from finflow_assets.review_app.users import disable_user
from finflow_assets.warehouse import connect

from .seed import MERCHANT, MERCHANT_LINES, PASSWORD, SECOND_CHOICE, SQLI, XSS, seed


@pytest.fixture
def app(review_url):
    with connect(review_url, autocommit=True) as conn:
        seed(conn)
    return create_app(review_url)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in(app, name: str) -> tuple[TestClient, str]:
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "username": name, "password": PASSWORD, "next": "/"})
    assert response.status_code == 303, response.text
    page = client.get("/dashboard" if name == "vic" else "/")
    return client, csrf_of(page.text)


def decisions(url: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(
            "select item_type, item_id, decision, category, reviewer, reverses from review.review_decisions"
            " order by decision_id"
        ).fetchall()


def test_no_session_gets_the_sign_in_page(app):
    client = TestClient(app, follow_redirects=False)
    for path in ("/", "/dashboard", "/transactions/tx-1"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/dashboard/data").status_code == 401
    assert "Sign in" in client.get("/login").text


def test_session_cookie_is_httponly_and_samesite(app):
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "username": "rita", "password": PASSWORD})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_wrong_password_and_disabled_user_cannot_sign_in(app, review_url):
    client = TestClient(app, follow_redirects=False)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "username": "rita", "password": "wrong password"})
    assert response.status_code == 200 and "wrong name or password" in response.text
    signed, _ = signed_in(app, "ada")
    with connect(review_url, autocommit=True) as conn:
        disable_user(conn, "ada")
    # disabling takes effect on the next request of an open session, and at sign-in
    assert signed.get("/").status_code == 303
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "username": "ada", "password": PASSWORD})
    assert "wrong name or password" in response.text


def test_missing_or_wrong_csrf_is_refused(app, review_url):
    client, token = signed_in(app, "rita")
    item = {"item": "category:tx-1", "decision": "approve"}
    assert client.post("/decide", data=item).status_code == 403
    assert client.post("/decide", data={**item, "csrf": token + "x"}).status_code == 403
    assert client.post("/undo", data={}).status_code == 403
    assert client.post("/rules", data={"category": "travel", "description": "X"}).status_code == 403
    assert decisions(review_url) == []
    # a token from another session does not work either
    other, other_token = signed_in(app, "ada")
    assert client.post("/decide", data={**item, "csrf": other_token}).status_code == 403
    # and the login form itself needs its token
    assert TestClient(app).post("/login", data={"username": "rita", "password": PASSWORD}).status_code == 403


def test_a_viewer_sees_the_dashboard_and_cannot_decide(app, review_url):
    client, token = signed_in(app, "vic")
    assert client.get("/dashboard").status_code == 200
    data = client.get("/dashboard/data").json()
    assert {row["item_type"]: row["items"] for row in data["queue"]}["category"] == MERCHANT_LINES + 3
    with connect(review_url) as conn:  # today and recent days: the category report's rows summed per day
        days = conn.execute(
            "select booked_date::text, sum(transactions), sum(money_out) from reports.category_summary"
            " group by 1 order by 1 desc limit 7"
        ).fetchall()
    assert [(d["booked_date"], d["transactions"], d["money_out"]) for d in data["by_day"]] == [
        (day, int(n), float(out)) for day, n, out in days
    ]
    with connect(review_url) as conn:  # money per day and account: the account report's rows, accounts masked
        accounts = conn.execute(
            "select booked_date::text, account, money_in_base, money_out_base from reports.account_summary"
            " order by booked_date desc, source, account"
        ).fetchall()
    assert accounts and [
        (r["booked_date"], r["account"], r["money_in_base"], r["money_out_base"]) for r in data["money_by_account"]
    ] == [(day, account, float(money_in), float(out)) for day, account, money_in, out in accounts]
    assert all(r["account"].startswith("****") for r in data["money_by_account"])
    queue = client.get("/").text
    assert 'name="item"' not in queue  # read-only: no checkboxes, no decision buttons
    for path, form in (
        ("/decide", {"item": "category:tx-1", "decision": "approve"}),
        ("/undo", {}),
        ("/rules", {"category": "travel", "description": "ZOOM.US"}),
    ):
        assert client.post(path, data={**form, "csrf": token}).status_code == 403
    assert decisions(review_url) == []


def test_reviewer_decides_in_bulk_undoes_and_makes_a_rule(app, review_url):
    client, token = signed_in(app, "rita")
    queue = client.get(f"/?q={MERCHANT}").text
    merchant_items = re.findall(r'name="item" value="(category:tx-\d+)"', queue)
    assert len(merchant_items) == MERCHANT_LINES
    response = client.post(
        "/decide",
        data={
            "csrf": token,
            "item": merchant_items,
            "decision": "recategorize",
            "category": "office_supplies_equipment",
            "return_to": "/",
        },
    )
    assert response.status_code == 303
    assert client.get("/").text.count(MERCHANT) == 0  # decided items leave the queue
    client.post("/decide", data={"csrf": token, "item": "category:tx-101", "decision": "approve"})
    client.post("/decide", data={"csrf": token, "item": "anomaly:tx-odd", "decision": "not_anomalous"})
    rows = decisions(review_url)
    assert len(rows) == MERCHANT_LINES + 2
    assert all(r[4] == "rita" for r in rows)  # the signed-in user, never a typed name
    assert rows[MERCHANT_LINES] == ("category", "tx-101", "approve", "software_saas", "rita", None)
    assert rows[-1][:3] == ("anomaly", "tx-odd", "not_anomalous")

    client.post("/undo", data={"csrf": token, "return_to": "/"})
    rows = decisions(review_url)
    assert rows[-1][2] == "undo" and rows[-1][1] == "tx-odd"  # appended, nothing deleted
    assert "tx-odd" in client.get("/?type=anomaly").text  # back in the queue

    response = client.post(
        "/rules", data={"csrf": token, "category": "office_supplies_equipment", "description": f"{MERCHANT} 1001"}
    )
    assert response.status_code == 303
    with connect(review_url) as conn:
        rule = conn.execute(
            "select pattern, category, proposed_by, expected_matches, status from review.pending_rules"
        ).fetchone()
    assert rule == ("^ACME OFFICE SUPPLY", "office_supplies_equipment", "rita", MERCHANT_LINES, "pending")


def test_a_bulk_decision_is_all_or_nothing(app, review_url):
    client, token = signed_in(app, "rita")
    # the second item is not a category item: neither is recorded
    client.post("/decide", data={"csrf": token, "item": ["category:tx-1", "anomaly:tx-1"], "decision": "not_anomalous"})
    assert decisions(review_url) == []


def test_a_category_outside_the_company_vocabulary_is_refused(app, review_url):
    client, token = signed_in(app, "rita")
    form = {"csrf": token, "item": "category:tx-1", "decision": "recategorize", "category": "made_up"}
    client.post("/decide", data=form)
    assert decisions(review_url) == [] and "unknown category" in client.get("/").text
    client.post("/decide", data={**form, "category": "office_supplies_equipment"})  # a rule's or report's category
    assert decisions(review_url)[0][3] == "office_supplies_equipment"


def test_hostile_descriptions_and_filters_are_inert(app, review_url):
    client, token = signed_in(app, "rita")
    page = client.get("/").text
    assert XSS not in page and "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    detail = client.get("/transactions/tx-102").text
    assert XSS not in detail and "&lt;script&gt;" in detail
    for hostile in (SQLI, "' or 1=1 --", XSS, "%", "\\"):
        response = client.get(
            "/",
            params={
                "q": hostile,
                "account": hostile,
                "source": hostile,
                "sort": hostile,
                "min": hostile,
                "from": hostile,
            },
        )
        assert response.status_code == 200
        assert XSS not in response.text
    found = client.get("/", params={"q": SQLI}).text
    assert "tx-103" in found and 'tx-1"' not in found  # the injection text matches itself, literally
    with connect(review_url) as conn:
        assert conn.execute("select count(*) from review.review_queue").fetchone()[0] == MERCHANT_LINES + 4


def test_a_decisions_table_from_before_undo_gets_the_column_and_keeps_its_rows(finflow_home):
    """A warehouse made by an earlier FinFlow (no ``reverses`` column, narrower checks): the first use adds the
    column, widens the checks and creates the view, and its decisions stay in force."""
    from finflow_assets.intelligence.review import ensure_review_tables, undo_last
    from tests.conftest import fresh_database

    with fresh_database("test_review_migration") as url, connect(url, autocommit=True) as conn:
        conn.execute(OLD_DECISIONS_DDL)
        conn.execute(
            "insert into review.review_decisions (item_type, item_id, transaction_id, decision, category, reviewer)"
            " values ('category', 't-1', 't-1', 'recategorize', 'travel', 'alice')"
        )
        ensure_review_tables(conn)
        assert conn.execute("select count(*) from review.effective_decisions").fetchone()[0] == 1
        undone = undo_last(conn, "alice")
        assert undone["reverses"] == 1
        assert conn.execute("select count(*) from review.effective_decisions").fetchone()[0] == 0


def test_a_reviewer_links_an_unmatched_item_to_a_candidate_and_unlinks_it(app, review_url):
    with connect(review_url, autocommit=True) as conn:
        seed(conn, reconciliation=True)
    client, token = signed_in(app, "rita")
    page = client.get("/transactions/tx-odd").text
    candidates = re.findall(r'data-candidate="([^"]+)"', page)
    assert candidates == ["r-bank-near", "r-bank-far"]  # closest amount first; another currency is no candidate
    near = page.split('data-candidate="r-bank-near"', 1)[1].split("</tr>", 1)[0]
    assert ">10.00<" in near and ">1<" in near  # 10.00 more than expected (-25,000.00), a day apart
    client.post(
        "/link",
        data={"csrf": token, "item": "r-invoice", "link_to": "r-bank-near", "return_to": "/transactions/tx-odd"},
    )
    rows = decisions(review_url)
    assert rows == [("reconciliation", "r-invoice", "link", None, "rita", None)]
    queued = client.get("/?type=reconciliation").text
    # both sides of the link left the queue; the other candidate still waits
    assert set(re.findall(r'data-item="reconciliation:([^"]+)"', queued)) == {"r-bank-far", "r-eur"}
    with connect(review_url) as conn:
        link = conn.execute("select decision_id, link_to from review.review_decisions").fetchone()
    assert link[1] == "r-bank-near"
    # a link must join a left item to a right-only item
    client.post("/link", data={"csrf": token, "item": "r-bank-far", "link_to": "r-bank-near"})
    assert len(decisions(review_url)) == 1
    client.post("/link", data={"csrf": token, "unlink": str(link[0])})
    assert decisions(review_url)[-1][2] == "undo"
    queued = client.get("/?type=reconciliation").text
    assert set(re.findall(r'data-item="reconciliation:([^"]+)"', queued)) == {
        "r-invoice",
        "r-bank-near",
        "r-bank-far",
        "r-eur",
    }


# review.review_decisions as FinFlow made it before re-delivery conflicts and undo rows
OLD_DECISIONS_DDL = """
create schema if not exists review;
create table review.review_decisions (
    decision_id bigserial primary key,
    item_type text not null check (item_type in ('category', 'anomaly', 'reconciliation')),
    item_id text not null,
    transaction_id text,
    decision text not null check (decision in ('approve', 'recategorize', 'not_anomalous')),
    category text,
    reviewer text not null check (reviewer <> ''),
    decided_at timestamptz not null default now(),
    note text not null default '',
    constraint decision_fits_item check (
        (item_type = 'category' and decision in ('approve', 'recategorize') and coalesce(category, '') <> '')
        or (item_type = 'anomaly' and decision in ('approve', 'not_anomalous'))
        or (item_type = 'reconciliation' and decision = 'approve')
    )
);
"""


def test_users_and_rules_from_the_command_line(review_url, monkeypatch, tmp_path, capsys):
    """``finflow users add|list|disable`` and ``finflow rules pending``; accepting a rule appends it to the seed."""
    import shutil

    from finflow_assets.cli import main
    from finflow_assets.intelligence.pending_rules import RULES_SEED, accept_rule, propose_rule

    monkeypatch.setenv("FINFLOW_DATABASE_URL", review_url)
    monkeypatch.setenv("FINFLOW_USER_PASSWORD", "a long enough secret")
    with connect(review_url, autocommit=True) as conn:
        seed(conn)
    assert main(["users", "add", "bo", "--role", "viewer"]) == 0
    assert main(["users", "add", "<bad name>", "--role", "viewer"]) == 2
    assert main(["users", "disable", "bo"]) == 0
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"bo\s+viewer\s+disabled", listed) and re.search(r"rita\s+reviewer\s*\n", listed)
    with connect(review_url) as conn:
        stored = conn.execute("select password_hash from review.users where username = 'bo'").fetchone()[0]
        assert stored.startswith("scrypt$") and "a long enough secret" not in stored

    with connect(review_url, autocommit=True) as conn:
        rule = propose_rule(conn, category="software_saas", pattern="^ZOOM\\.US", proposed_by="rita")
        assert (rule["expected_matches"], rule["expected_changes"]) == (1, 1)
    capsys.readouterr()
    assert main(["rules", "pending"]) == 0
    assert rule["rule_id"] in capsys.readouterr().out
    seed_copy = tmp_path / "categorization_rules.csv"
    shutil.copy(RULES_SEED, seed_copy)
    with connect(review_url, autocommit=True) as conn:
        accept_rule(conn, rule["rule_id"], "ada", seed=seed_copy)
        assert conn.execute(
            "select status, decided_by from review.pending_rules where rule_id = %s", (rule["rule_id"],)
        ).fetchone() == ("accepted", "ada")
    lines = seed_copy.read_text().splitlines()
    assert lines[:-1] == RULES_SEED.read_text().splitlines()
    assert lines[-1] == f"{rule['rule_id']},50,software_saas,,,^ZOOM\\.US"


def _conflict(conn, conflict_id: str) -> None:
    """A re-delivery conflict as ``sources/redeliveries.py`` records it: an earlier line disputed, the later line
    that would replace it held."""
    from finflow_assets.sources.raw_tables import ensure_raw_schema

    ensure_raw_schema(conn)
    conn.execute("delete from raw._superseded")
    for side, status, amount in (("earlier", "disputed", "4.03"), ("later", "held", "400.03")):
        conn.execute(
            "insert into raw._superseded (transaction_id, source, conflict_id, side, status, load_id, source_row,"
            " superseding_load_id, account, booked_date, amount, currency, description, reason, recorded_at)"
            " values (%s, 'bank_operating', %s, %s, %s, gen_random_uuid(), 3, gen_random_uuid(), 'ACCT-1',"
            " '2026-01-05', %s, 'USD', 'COFFEE', 'amount changed by a later delivery', now() - interval '1 day')",
            (f"{conflict_id}-{side}", conflict_id, side, status, amount),
        )


@pytest.mark.parametrize("decision", ["keep_earlier", "approve"])
def test_a_redelivery_decision_is_undone_like_any_other(app, review_url, decision):
    """Undo of the last decision reopens the conflict: the later line is held and the earlier one counts again
    (with a new ``recorded_at``, so the next run re-validates both), and the item is back in the queue."""
    from finflow_assets.intelligence.review import rebuild_queue

    with connect(review_url, autocommit=True) as conn:
        _conflict(conn, "c-1")
        rebuild_queue(conn)
        before = conn.execute("select max(recorded_at) from raw._superseded").fetchone()[0]
    client, token = signed_in(app, "rita")
    assert 'data-item="redelivery:c-1"' in client.get("/?type=redelivery").text
    client.post("/decide", data={"csrf": token, "item": "redelivery:c-1", "decision": decision, "return_to": "/"})

    def statuses() -> dict[str, str]:
        with connect(review_url) as conn:
            return dict(conn.execute("select side, status from raw._superseded").fetchall())

    settled = (
        {"earlier": "kept", "later": "superseded"}
        if decision == "keep_earlier"
        else {
            "earlier": "superseded",
            "later": "released",
        }
    )
    assert statuses() == settled
    assert 'data-item="redelivery:c-1"' not in client.get("/?type=redelivery").text

    client.post("/undo", data={"csrf": token, "return_to": "/"})
    assert decisions(review_url)[-1][1:3] == ("c-1", "undo")
    assert statuses() == {"earlier": "disputed", "later": "held"}
    with connect(review_url, autocommit=True) as conn:
        assert conn.execute("select min(recorded_at) from raw._superseded").fetchone()[0] > before
        rebuild_queue(conn)
    assert 'data-item="redelivery:c-1"' in client.get("/?type=redelivery").text
    # decided again after the undo: the conflict settles as any open one does
    client.post("/decide", data={"csrf": token, "item": "redelivery:c-1", "decision": decision})
    assert statuses() == settled


def test_undoing_a_redelivery_decision_whose_lines_moved_on_is_refused(review_url):
    """A later delivery took the decided lines over (a new conflict id): the old decision has nothing to reopen and
    stays in force."""
    from finflow_assets.intelligence.review import DecisionError, rebuild_queue, record_decision, undo_decision

    with connect(review_url, autocommit=True) as conn:
        seed(conn)
        _conflict(conn, "c-2")
        rebuild_queue(conn)
        decided = record_decision(conn, "c-2", "keep_earlier", "rita")
        conn.execute("update raw._superseded set conflict_id = 'c-3'")
        with pytest.raises(DecisionError, match="nothing to reopen"):
            undo_decision(conn, decided["decision_id"], "rita")
        assert conn.execute("select count(*) from review.effective_decisions").fetchone()[0] == 1


def test_new_passwords_are_hashed_at_owasps_scrypt_minimum_by_default():
    """The production cost (not the tests' cheap one): what a fresh process hashes with is at least n=2**17, r=8,
    p=1, and such a hash verifies (scrypt's memory limit is raised to fit it)."""
    import subprocess
    import sys

    from finflow_assets.review_app.users import DEFAULT_COST, verify_password
    from tests.conftest import REPO_ROOT

    assert DEFAULT_COST.n >= 2**17 and DEFAULT_COST.r >= 8 and DEFAULT_COST.p >= 1
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            "from finflow_assets.review_app.users import hash_password; print(hash_password('a secret pass'))",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    scheme, n, r, p, _, _ = made.split("$")
    assert scheme == "scrypt" and int(n) >= 2**17 and int(r) >= 8 and int(p) >= 1
    assert verify_password("a secret pass", made) and not verify_password("a secret pasS", made)


def test_an_older_cheaper_hash_still_signs_in_and_is_rehashed_at_the_current_cost(app, review_url):
    from finflow_assets.review_app.users import COST, ScryptCost, hash_password, needs_rehash

    older = hash_password(PASSWORD, ScryptCost(COST.n // 2, COST.r, COST.p))
    with connect(review_url, autocommit=True) as conn:
        conn.execute("update review.users set password_hash = %s where username = 'rita'", (older,))
    signed_in(app, "rita")
    with connect(review_url) as conn:
        stored = conn.execute("select password_hash from review.users where username = 'rita'").fetchone()[0]
    assert stored != older and stored.split("$")[1:4] == [str(v) for v in COST] and not needs_rehash(stored)
    signed_in(app, "rita")  # and the new hash works


def test_links_in_alerts_e_mails_and_metadata_open_the_item_they_name(app, monkeypatch):
    """``notify/links.py`` builds the links alerts, report e-mails and asset metadata carry; opened in the workspace,
    a queue link shows exactly the item (or type) it names and a transaction link that transaction's page."""
    from finflow_assets.notify.links import dashboard_link, queue_link, transaction_link
    from finflow_assets.reports.assets import review_links
    from finflow_assets.reports.catalog import ANOMALIES_FOR_REVIEW, DATA_QUALITY_SUMMARY

    monkeypatch.setenv("FINFLOW_REVIEW_URL", "https://review.example.com/")
    base = "https://review.example.com"
    client, _ = signed_in(app, "rita")

    def opened(link: str) -> str:
        assert link.startswith(base + "/")
        response = client.get(link.removeprefix(base))
        assert response.status_code == 200
        return response.text

    one = opened(queue_link("category", "tx-3"))
    assert re.findall(r'data-item="([^"]+)"', one) == ["category:tx-3"] and "Showing item" in one
    anomalies = opened(queue_link("anomaly"))
    assert re.findall(r'data-item="([^"]+)"', anomalies) == ["anomaly:tx-odd"]
    assert "WIRE OUT NEW LLC" in opened(transaction_link("tx-odd"))
    assert opened(dashboard_link()).count('id="headlines"') == 1
    assert review_links(ANOMALIES_FOR_REVIEW)["review_queue"].value == f"{base}/?type=anomaly"
    assert set(review_links(DATA_QUALITY_SUMMARY)) == {"dashboard"}
    monkeypatch.delenv("FINFLOW_REVIEW_URL")
    assert queue_link() == "http://127.0.0.1:3001/"  # finflow review serve's and finflow ui's default


def test_the_models_top_three_come_first_and_one_click_decides(app, review_url):
    """A category item shows the model's three best categories with their probabilities before the type-ahead;
    clicking one records it (the suggestion as approve, another as recategorize); a made-up one is refused."""
    client, token = signed_in(app, "rita")
    page = client.get("/?q=ACME+OFFICE+SUPPLY+1002").text
    picks = re.findall(
        r'<button type="submit" class="pick" name="pick" value="([^"]+)"[^>]*>([^<]+)<span class="p">(\d+)%', page
    )
    assert [(value, label.strip(), int(p)) for value, label, p in picks] == [
        ("approve|category:tx-2|office_supplies_equipment", "office_supplies_equipment", 52),
        (f"recategorize|category:tx-2|{SECOND_CHOICE}", SECOND_CHOICE, 29),
        ("recategorize|category:tx-2|marketing_advertising", "marketing_advertising", 14),
    ]
    client.post("/decide", data={"csrf": token, "pick": picks[1][0], "return_to": "/"})
    client.post("/decide", data={"csrf": token, "pick": "approve|category:tx-3|office_supplies_equipment"})
    client.post("/decide", data={"csrf": token, "pick": "recategorize|category:tx-4|made_up"})
    assert decisions(review_url) == [
        ("category", "tx-2", "recategorize", SECOND_CHOICE, "rita", None),
        ("category", "tx-3", "approve", "office_supplies_equipment", "rita", None),
    ]
    detail = client.get("/transactions/tx-4").text
    tops = detail.split('id="top-categories"', 1)[1].split("</div>", 1)[0]
    assert re.findall(r'name="category" value="([^"]+)"', tops) == [
        "office_supplies_equipment",
        SECOND_CHOICE,
        "marketing_advertising",
    ]
    typeahead = re.findall(
        r'<option value="([^"]+)">', detail.split('id="tx-categories"', 1)[1].split("</datalist>")[0]
    )
    assert typeahead[:3] == ["office_supplies_equipment", SECOND_CHOICE, "marketing_advertising"]
    assert len(typeahead) == len(set(typeahead)) > 3
