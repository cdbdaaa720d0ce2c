"""Staff accounts: creation, password hashing (argon2) and authentication."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.models import ROLES, User

_hasher = PasswordHasher()


class UserError(ValueError):
    """A user operation was refused (message is for operators)."""


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(hashed: str, secret: str) -> bool:
    try:
        return _hasher.verify(hashed, secret)
    except (VerifyMismatchError, InvalidHashError):
        return False


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    *,
    display_name: str = "",
    department: str | None = None,
) -> User:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise UserError(f"unknown role(s): {', '.join(sorted(unknown))}; known: {', '.join(ROLES)}")
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")
    if session.scalar(select(User).where(User.username == username)):
        raise UserError(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=hash_secret(password),
        roles=",".join(roles),
        display_name=display_name or username,
        department=department,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user and verify_secret(user.password_hash, password):
        return user
    return None
