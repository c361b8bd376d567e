"""The review workspace's people (table ``review.users``): a name, a role and a scrypt password hash.

Roles: ``viewer`` sees the dashboard and the queue, ``reviewer`` also decides, ``admin`` also accepts rules.
scrypt is the standard library's memory-hard KDF (``hashlib.scrypt``), so no native dependency is added.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import psycopg

ROLES = ("viewer", "reviewer", "admin")
# scrypt cost n=2**14, r=8 (16 MiB per hash); OWASP's minimum is n=2**17 with r=8 (128 MiB): chosen lower so a sign-in
# stays cheap on small shared machines (docs/review_workspace.md); raise _N for a deployment with room
_N, _R, _P = 2**14, 8, 1

USERS_DDL = """
create schema if not exists review;
create table if not exists review.users (
    username text primary key check (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
    role text not null check (role in ('viewer', 'reviewer', 'admin')),
    password_hash text not null,
    disabled boolean not null default false,
    created_at timestamptz not null default now()
);
"""


class UserError(ValueError):
    """A user that cannot be added or changed (bad name, role or password; unknown user)."""


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(
        ("scrypt", str(_N), str(_R), str(_P), base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
    )
    return hmac.compare_digest(actual, expected)


def ensure_users(conn: psycopg.Connection) -> None:
    conn.execute(USERS_DDL)


def add_user(conn: psycopg.Connection, username: str, role: str, password: str) -> None:
    """Add a user, or set an existing one's role and password (and enable it)."""
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    ensure_users(conn)
    try:
        conn.execute(
            """
            insert into review.users (username, role, password_hash) values (%s, %s, %s)
            on conflict (username) do update set role = excluded.role, password_hash = excluded.password_hash,
                disabled = false
            """,
            (username, role, hash_password(password)),
        )
    except psycopg.errors.CheckViolation as error:
        raise UserError(f"user name {username!r}: letters, digits and . _ @ - only, at most 64") from error


def list_users(conn: psycopg.Connection) -> list[tuple[str, str, bool]]:
    ensure_users(conn)
    return conn.execute("select username, role, disabled from review.users order by username").fetchall()


def disable_user(conn: psycopg.Connection, username: str) -> None:
    ensure_users(conn)
    if conn.execute("update review.users set disabled = true where username = %s", (username,)).rowcount == 0:
        raise UserError(f"no user {username!r}")


def authenticate(conn: psycopg.Connection, username: str, password: str) -> str | None:
    """The user's role when the password is right and the user is enabled, else None."""
    ensure_users(conn)
    row = conn.execute(
        "select role, password_hash from review.users where username = %s and not disabled", (username,)
    ).fetchone()
    if row is None:
        hash_password(password)  # the same work for unknown names: no timing oracle on which names exist
        return None
    return row[0] if verify_password(password, row[1]) else None


def role_of(conn: psycopg.Connection, username: str) -> str | None:
    """The current role of an enabled user (checked on every request: disabling takes effect at once)."""
    row = conn.execute("select role from review.users where username = %s and not disabled", (username,)).fetchone()
    return row[0] if row else None
