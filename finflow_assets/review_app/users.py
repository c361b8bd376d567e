"""The review workspace's people (table ``review.users``): a name, a role and a scrypt password hash.

Roles: ``viewer`` sees the dashboard and the queue, ``reviewer`` also decides, ``admin`` also accepts rules.
scrypt is the standard library's memory-hard KDF (``hashlib.scrypt``), so no native dependency is added. Each hash
carries its own cost (``scrypt$n$r$p$salt$digest``): a hash made at an older, lower cost still verifies and is
re-made at the current cost at its owner's next sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import NamedTuple

import psycopg


class ScryptCost(NamedTuple):
    n: int  # CPU/memory cost (a power of two)
    r: int  # block size
    p: int  # parallelism

    def memory(self) -> int:
        """The bytes scrypt needs (128·r·n for its table, plus its p blocks), as OpenSSL checks them."""
        return 128 * self.r * (self.n + self.p + 2)


ROLES = ("viewer", "reviewer", "admin")
# OWASP's Password Storage Cheat Sheet minimum for scrypt: n=2**17, r=8, p=1 (128 MiB per hash)
DEFAULT_COST = ScryptCost(2**17, 8, 1)
COST = DEFAULT_COST  # what new hashes use (the workspace's tests lower it for speed; a test checks the default)
MAX_N = 2**20  # a stored hash asking for more is refused, not computed (1 GiB)

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


def hash_password(password: str, cost: ScryptCost | None = None) -> str:
    cost = cost or COST
    salt = os.urandom(16)
    digest = _scrypt(password, salt, cost, 32)
    return "$".join(("scrypt", *map(str, cost), base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def _scrypt(password: str, salt: bytes, cost: ScryptCost, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p, dklen=length, maxmem=cost.memory() + 2**20
    )


def _parse(stored: str) -> tuple[ScryptCost, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        cost = ScryptCost(int(n), int(r), int(p))
    except ValueError:
        return None
    if scheme != "scrypt" or not (1 < cost.n <= MAX_N and cost.r > 0 and cost.p > 0):
        return None
    return cost, base64.b64decode(salt), base64.b64decode(digest)


def verify_password(password: str, stored: str) -> bool:
    parsed = _parse(stored)
    if parsed is None:
        return False
    cost, salt, expected = parsed
    return hmac.compare_digest(_scrypt(password, salt, cost, len(expected)), expected)


def needs_rehash(stored: str) -> bool:
    """A hash made at a lower cost than new hashes get (an older FinFlow's n=2**14)."""
    parsed = _parse(stored)
    return parsed is None or any(have < want for have, want in zip(parsed[0], COST, strict=True))


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
    if not verify_password(password, row[1]):
        return None
    if needs_rehash(row[1]):  # the password is known now: store it at the current cost
        conn.execute(
            "update review.users set password_hash = %s where username = %s and password_hash = %s",
            (hash_password(password), username, row[1]),
        )
    return row[0]


def role_of(conn: psycopg.Connection, username: str) -> str | None:
    """The current role of an enabled user (checked on every request: disabling takes effect at once)."""
    row = conn.execute("select role from review.users where username = %s and not disabled", (username,)).fetchone()
    return row[0] if row else None
