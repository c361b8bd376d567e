"""The review workspace: server-rendered pages (Starlette + Jinja2) over the review queue and the reports.

Why Starlette: it is already in the dependency tree (Dagster's webserver runs on it, with uvicorn), it is small and
well kept, serves static files and Jinja2 templates (autoescaped) itself, and signs session cookies with
itsdangerous (also already installed). Every decision goes through ``intelligence.review`` (the same functions as
``finflow review decide``); this module only checks who may do what and renders pages.

Safety: a signed, HttpOnly, SameSite=Lax session cookie (``Secure`` with ``FINFLOW_REVIEW_HTTPS=1``); a CSRF token
per session on every form, checked on every POST (403 without it); the user's role is read from
``review.users`` on every request, so disabling a user takes effect at once; a viewer's POST is refused (403).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import psycopg
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..intelligence import review
from ..intelligence.pending_rules import RuleError, merchant_pattern, propose_rule
from ..notify.links import REVIEW_HOST, REVIEW_PORT
from ..settings import paths
from ..warehouse import connect
from . import dashboard
from .users import authenticate, ensure_users, role_of

HERE = Path(__file__).parent
PAGE_SIZE = 50
DECIDERS = ("reviewer", "admin")
CATEGORIES_TTL = 60.0  # seconds the category list is reused between requests
templates = Jinja2Templates(directory=str(HERE / "templates"))


def mask_account(account: str | None) -> str:
    """Accounts show their last four characters, as in the reports."""
    if not account:
        return ""
    return "…" + str(account)[-4:]


templates.env.filters["mask"] = mask_account
templates.env.filters["money"] = lambda v: "" if v is None else f"{Decimal(v):,.2f}"


def session_secret() -> str:
    """``FINFLOW_REVIEW_SECRET``, else a random key kept (0600) in the data folder so sessions survive restarts."""
    secret = os.environ.get("FINFLOW_REVIEW_SECRET")
    if secret:
        return secret
    path = paths().home / "review_session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class Forbidden(Exception):
    pass


def create_app(database_url: str | None = None, *, https_only: bool | None = None) -> Starlette:
    """The workspace's ASGI app; ``database_url`` defaults to the warehouse (FINFLOW_DATABASE_URL or embedded)."""
    https = os.environ.get("FINFLOW_REVIEW_HTTPS") == "1" if https_only is None else https_only

    def db() -> psycopg.Connection:
        return connect(database_url, autocommit=True)

    with db() as conn:
        ensure_users(conn)
        review.ensure_review_tables(conn)

    async def run(fn: Callable, *args: object, **kwargs: object) -> object:
        def job() -> object:
            with db() as conn:
                return fn(conn, *args, **kwargs)

        return await run_in_threadpool(job)

    known: dict[str, object] = {"at": 0.0, "categories": []}

    async def categories(fresh: bool = False) -> list[str]:
        """The company's categories (any vocabulary: what its rules, reports and model use), kept a minute."""
        if fresh or time.monotonic() - known["at"] > CATEGORIES_TTL:
            known["categories"] = await run(dashboard.company_categories)
            known["at"] = time.monotonic()
        return known["categories"]

    async def user(request: Request) -> tuple[str, str] | None:
        name = request.session.get("user")
        if not name:
            return None
        role = await run(role_of, name)
        if role is None:
            request.session.clear()
            return None
        return name, role

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    async def form(request: Request, *, roles: tuple[str, ...] | None = DECIDERS) -> tuple[dict, tuple[str, str]]:
        """The POSTed form after the CSRF and role checks (raises Forbidden)."""
        body = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        data = {key: values if key == "item" else values[-1] for key, values in body.items()}
        expected = request.session.get("csrf") or ""
        if not expected or not hmac.compare_digest(str(data.get("csrf", "")), expected):
            raise Forbidden("missing or wrong CSRF token")
        who = await user(request)
        if roles is not None and (who is None or who[1] not in roles):
            raise Forbidden("your role cannot do this")
        return data, who

    def page(request: Request, name: str, who: tuple[str, str] | None, **context: object) -> Response:
        flash = request.session.pop("flash", None)
        return templates.TemplateResponse(
            request,
            name,
            {
                "user": who[0] if who else None,
                "role": who[1] if who else None,
                "can_decide": bool(who and who[1] in DECIDERS),
                "csrf": csrf_token(request),
                "flash": flash,
                **context,
            },
        )

    def to_signin(request: Request) -> Response:
        return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", status_code=303)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return page(request, "login.html", None, next=request.query_params.get("next", "/"), error=None)
        try:
            data, _ = await form(request, roles=None)
        except Forbidden:
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        role = await run(authenticate, data.get("username", ""), data.get("password", ""))
        target = data.get("next", "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # no open redirect
        if role is None:
            return page(request, "login.html", None, next=target, error="wrong name or password")
        request.session.clear()  # a new session (and CSRF token) at sign-in
        request.session["user"] = data["username"]
        csrf_token(request)
        return RedirectResponse("/dashboard" if role == "viewer" and target == "/" else target, status_code=303)

    async def logout(request: Request) -> Response:
        try:
            await form(request, roles=None)
        except Forbidden:
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    def filters_from(params: dict) -> dict:
        def number(key: str) -> float | None:
            try:
                return float(params[key]) if params.get(key) else None
            except ValueError:
                return None

        def day(key: str) -> date | None:
            try:
                return date.fromisoformat(params[key]) if params.get(key) else None
            except ValueError:
                return None

        item_type = params.get("type") or None
        return {
            "item_type": item_type if item_type in review.ITEM_TYPES else None,
            "item_id": params.get("item") or None,  # one item (the links in alerts and e-mails)
            "source": params.get("source") or None,
            "text": params.get("q") or None,
            "account": params.get("account") or None,
            "date_from": day("from"),
            "date_to": day("to"),
            "amount_min": number("min"),
            "amount_max": number("max"),
            "sort": params.get("sort") if params.get("sort") in review.SORTS else "queue",
        }

    async def queue(request: Request) -> Response:
        who = await user(request)
        if who is None:
            return to_signin(request)
        params = dict(request.query_params)
        try:
            number = max(1, int(params.get("page", "1")))
        except ValueError:
            number = 1
        filters = filters_from(params)
        rows, total, counts = await run(
            review.search_queue, **filters, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        sources = await run(
            lambda conn: [
                r[0]
                for r in conn.execute(
                    "select distinct source from review.review_queue where source is not null order by 1"
                ).fetchall()
            ]
        )
        query = {k: v for k, v in params.items() if k != "page" and v}
        return page(
            request,
            "queue.html",
            who,
            rows=rows,
            total=total,
            counts=counts,
            params=params,
            sources=sources,
            page=number,
            pages=max(1, -(-total // PAGE_SIZE)),
            query=urlencode(query),
            return_to=str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
            categories=await categories(),
            sorts=list(review.SORTS),
            item_types=review.ITEM_TYPES,
        )

    def back(data: dict) -> str:
        target = data.get("return_to") or "/"
        return target if target.startswith("/") and not target.startswith("//") else "/"

    async def decide(request: Request) -> Response:
        try:
            data, who = await form(request)
        except Forbidden as error:
            return PlainTextResponse(str(error), status_code=403)
        if data.get("pick"):  # one of the model's top categories for one item: "decision|type:id|category"
            decision, _, rest = data["pick"].partition("|")
            item, _, picked = rest.rpartition("|")
            data.update(item=[item], decision=decision, category=picked)
        items = []
        for value in data.get("item", []):
            item_type, _, item_id = value.partition(":")
            if item_type in review.ITEM_TYPES and item_id:
                items.append((item_type, item_id))
        decision = data.get("decision", "")
        # approve records each item's own suggestion, whatever the category box holds
        category = None if decision == "approve" else (data.get("category") or "").strip() or None
        if decision == "recategorize" and category not in await categories() and category not in await categories(True):
            request.session["flash"] = f"unknown category {category!r}"
            return RedirectResponse(back(data), status_code=303)
        if not items:
            request.session["flash"] = "select at least one item"
            return RedirectResponse(back(data), status_code=303)
        try:
            done = await run(
                review.record_decisions, items, decision, who[0], category=category, note=data.get("note", "")
            )
        except review.DecisionError as error:
            request.session["flash"] = f"nothing recorded: {error}"
        else:
            what = f" as {category}" if decision == "recategorize" else ""
            request.session["flash"] = f"{decision}{what}: {len(done)} item(s) recorded by {who[0]}"
        return RedirectResponse(back(data), status_code=303)

    async def undo(request: Request) -> Response:
        try:
            data, who = await form(request)
        except Forbidden as error:
            return PlainTextResponse(str(error), status_code=403)
        try:
            row = await run(review.undo_last, who[0])
        except review.DecisionError as error:
            request.session["flash"] = str(error)
        else:
            request.session["flash"] = f"undid decision {row['reverses']} on {row['item_type']} {row['item_id']}"
        return RedirectResponse(back(data), status_code=303)

    async def link(request: Request) -> Response:
        """Link two unmatched reconciliation items (a decision), or unlink (undo that decision)."""
        try:
            data, who = await form(request)
        except Forbidden as error:
            return PlainTextResponse(str(error), status_code=403)
        try:
            if data.get("unlink"):
                await run(review.undo_decision, int(data["unlink"]), who[0], data.get("note", ""))
                request.session["flash"] = f"unlinked (decision {int(data['unlink'])} undone by {who[0]})"
            else:
                row = await run(
                    review.record_decision,
                    data.get("item", [""])[0],
                    "link",
                    who[0],
                    item_type="reconciliation",
                    link_to=data.get("link_to"),
                    note=data.get("note", ""),
                )
                request.session["flash"] = f"linked {row['item_id']} with {row['link_to']} by {who[0]}"
        except (review.DecisionError, ValueError) as error:
            request.session["flash"] = f"nothing recorded: {error}"
        return RedirectResponse(back(data), status_code=303)

    async def make_rule(request: Request) -> Response:
        try:
            data, who = await form(request)
        except Forbidden as error:
            return PlainTextResponse(str(error), status_code=403)
        category = data.get("category", "")
        if category not in await categories():
            request.session["flash"] = f"unknown category {category!r}"
            return RedirectResponse(back(data), status_code=303)
        try:
            pattern = data.get("pattern") or merchant_pattern(data.get("description", ""))
            rule = await run(
                propose_rule,
                category=category,
                pattern=pattern,
                proposed_by=who[0],
                source=data.get("source") or None,
            )
        except RuleError as error:
            request.session["flash"] = str(error)
        else:
            request.session["flash"] = (
                f"pending rule {rule['rule_id']}: {rule['pattern']} → {category} would match "
                f"{rule['expected_matches']} transaction(s), {rule['expected_changes']} of them change category "
                "(an analyst accepts it with finflow rules accept)"
            )
        return RedirectResponse(back(data), status_code=303)

    async def transaction(request: Request) -> Response:
        who = await user(request)
        if who is None:
            return to_signin(request)
        detail = await run(dashboard.transaction_detail, request.path_params["transaction_id"])
        if detail is None:
            return PlainTextResponse("no such transaction", status_code=404)
        return page(
            request, "transaction.html", who, categories=await categories(), return_to=str(request.url.path), **detail
        )

    async def dashboard_page(request: Request) -> Response:
        who = await user(request)
        if who is None:
            return to_signin(request)
        return page(request, "dashboard.html", who)

    async def dashboard_data(request: Request) -> Response:
        who = await user(request)
        if who is None:
            return JSONResponse({"error": "sign in"}, status_code=401)
        figures = await run(dashboard.figures)
        return Response(json.dumps(figures, default=_json_value), media_type="application/json")

    async def forbidden_handler(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("forbidden", status_code=403)

    routes = [
        Route("/", queue),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/decide", decide, methods=["POST"]),
        Route("/undo", undo, methods=["POST"]),
        Route("/rules", make_rule, methods=["POST"]),
        Route("/link", link, methods=["POST"]),
        Route("/transactions/{transaction_id:path}", transaction),
        Route("/dashboard", dashboard_page),
        Route("/dashboard/data", dashboard_data),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=session_secret(),
            session_cookie="finflow_review",
            same_site="lax",
            https_only=https,
            max_age=12 * 3600,
        ),
        Middleware(SecurityHeaders),
    ]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={Forbidden: forbidden_handler})


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


class SecurityHeaders:
    """A strict Content-Security-Policy (own scripts and styles only: an injected script would not run even if
    escaping failed), no framing, no MIME sniffing."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
            await send(message)

        await self.app(scope, receive, add_headers)


def serve(host: str = REVIEW_HOST, port: int = REVIEW_PORT, database_url: str | None = None) -> None:
    """Run the workspace with uvicorn until SIGINT/SIGTERM (open connections get 5 s to finish)."""
    import uvicorn

    uvicorn.run(
        create_app(database_url),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )
