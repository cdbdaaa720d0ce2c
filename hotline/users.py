"""Staff accounts: creation, password hashing (argon2), authentication with limits that hold under
concurrency, and ending an account's sessions (logout, password change, disabling)."""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hotline import attempts, audit
from hotline.config import get_settings
from hotline.db import new_session
from hotline.models import ROLES, User

_hasher = PasswordHasher()

LOGIN_MAX_PER_ADDRESS_AND_USER = 5  # attempts in LOGIN_WINDOW per client address and user name ...
LOGIN_MAX_PER_ADDRESS = 30  # ... per address over all user names (password spraying) ...
LOGIN_MAX_PER_ACCOUNT = 20  # ... and per user name from all addresses (guessing from many addresses)
LOGIN_WINDOW = timedelta(minutes=5)
PASSWORD_CHECK_WAIT = 10.0  # seconds a login waits for a free password check before "busy"


class UserError(ValueError):
    """A user operation was refused (message is for operators)."""


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(hashed: str, secret: str) -> bool:
    try:
        return _hasher.verify(hashed, secret)
    except (VerifyMismatchError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, checked for unknown user names: a login costs the same
    whether the name exists or not (no timing oracle for user names)."""
    return hash_secret(secrets.token_urlsafe(24))


@lru_cache(maxsize=1)
def _password_checks() -> threading.BoundedSemaphore:
    """At most `password_checks_at_once` argon2 checks (64 MiB each) run at once in this process."""
    return threading.BoundedSemaphore(max(1, get_settings().password_checks_at_once))


def check_username(username: str) -> str:
    """A user name as stored: stripped, 1-64 characters, no spaces or control characters."""
    name = (username or "").strip()
    if not name:
        raise UserError("用户名不能为空。")
    if len(name) > 64 or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise UserError("用户名最多64个字符，不能包含空格或控制字符。")
    return name


def check_department(session: Session, department: str | None) -> str | None:
    """A department name as stored (None for none); it must be one of casework's departments."""
    from casework.models import Department  # the units are casework's; users only name them

    name = (department or "").strip() or None
    if name is not None and session.scalar(select(Department.id).where(Department.name == name)) is None:
        raise UserError(f"承办部门“{name}”不存在。")
    return name


def check_roles(roles: list[str] | tuple[str, ...]) -> str:
    """Roles as stored (comma-separated, in ROLES order); at least one, all known."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise UserError(
            f"未知角色（unknown role）：{', '.join(sorted(unknown))}；可用角色：{', '.join(ROLES)}"
        )
    if not roles:
        raise UserError(f"请至少选择一个角色；可用角色：{', '.join(ROLES)}")
    return ",".join(r for r in ROLES if r in roles)


CONTACT_NUMBER = re.compile(r"\+?\d{5,20}")  # a phone or fax number staff type in: 5-20 digits, optional +


def contact_number(value: str | None) -> str | None:
    """A typed phone or fax number without spaces and dashes, None for none; ValueError if it is not
    5-20 digits with an optional leading +."""
    number = (value or "").strip().replace(" ", "").replace("-", "") or None
    if number is not None and not CONTACT_NUMBER.fullmatch(number):
        raise ValueError(number)
    return number


def check_role_department(stored_roles: str, department: str | None) -> None:
    """A department staff account belongs to a department (it works that department's cases only)."""
    if "department" in stored_roles.split(",") and not department:
        raise UserError("承办部门角色的账号须选择所属部门。")


def check_phone(phone: str | None) -> str | None:
    """A staff member's phone for SMS notices (None for none)."""
    try:
        return contact_number(phone)
    except ValueError:
        raise UserError("手机号码应为5至20位数字。") from None


MIN_PASSWORD = 8  # with the list of common passwords, as NIST SP 800-63B asks (docs/security.md)
COMMON_PASSWORDS = "security/common-passwords.txt"  # under data_dir: lower case, one a line


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    path = get_settings().data_dir / COMMON_PASSWORDS
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def check_password(password: str, username: str = "") -> None:
    """The staff password policy (one place: account creation, resets and changes): at least
    MIN_PASSWORD characters, not one of the common passwords, not built on the user name."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少需要{MIN_PASSWORD}个字符。")
    folded = password.strip().lower()
    if folded in _common_passwords() or len(set(folded)) < 3:
        raise UserError("这个密码太常见，容易被猜中，请换一个。")
    name = username.strip().lower()
    if len(name) >= 3 and name in folded:
        raise UserError("密码不能包含用户名。")


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    *,
    display_name: str = "",
    department: str | None = None,
    phone: str | None = None,
    actor: str = "cli",
) -> User:
    """A new account, audited; refused (UserError) for an empty or taken name, unknown roles or
    department, or a password the policy refuses."""
    username = check_username(username)
    stored_roles = check_roles(roles)
    department = check_department(session, department)
    check_role_department(stored_roles, department)
    check_password(password, username)
    if session.scalar(select(User).where(User.username == username)):
        raise UserError(f"用户“{username}”已存在（already exists）。")
    user = User(
        username=username,
        password_hash=hash_secret(password),
        roles=stored_roles,
        display_name=(display_name or "").strip() or username,
        department=department,
        phone=check_phone(phone),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user_created",
        entity="user",
        entity_id=user.id,
        detail={"username": username, "roles": stored_roles, "department": department},
    )
    return user


def update_user(
    session: Session,
    user: User,
    *,
    roles: list[str] | tuple[str, ...],
    display_name: str,
    department: str | None,
    phone: str | None,
    actor: str,
) -> None:
    """Change an account's roles, name, department and phone (for staff SMS); audited with the changes."""
    if actor == user.username and "admin" in user.role_set and "admin" not in roles:
        raise UserError("不能取消自己的系统管理员角色。")
    stored_roles, department = check_roles(roles), check_department(session, department)
    check_role_department(stored_roles, department)
    values = {
        "roles": stored_roles,
        "display_name": (display_name or "").strip() or user.username,
        "department": department,
        "phone": check_phone(phone),
    }
    changes = {k: [getattr(user, k), v] for k, v in values.items() if getattr(user, k) != v}
    if not changes:
        return
    for key, (_, value) in changes.items():
        setattr(user, key, value)
    session.flush()
    audit.record(
        session, actor=actor, action="user_changed", entity="user", entity_id=user.id, detail=changes
    )


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None. Unknown names are checked against a
    dummy hash (same cost), and checks wait for one of the process's password-check slots."""
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    hashed = user.password_hash if user is not None else _dummy_hash()
    slots = _password_checks()
    if not slots.acquire(timeout=PASSWORD_CHECK_WAIT):
        raise LoginBusy
    try:
        valid = verify_secret(hashed, password)
    finally:
        slots.release()
    return user if user is not None and valid else None


class LoginBusy(Exception):
    """Every password-check slot stayed taken: the caller should answer "busy, try again"."""


@dataclass(frozen=True)
class LoginResult:
    """The outcome of `login`: user (logged in), or refused with reason "limited" | "wrong" | "busy"."""

    user: User | None
    refused: str | None = None


def login_limits(address: str, username: str) -> dict[str, int]:
    """The rate-limit keys of a login attempt with their limits (per LOGIN_WINDOW)."""
    name = username[:64]
    return {
        f"login:addr:{address}:user:{name}": LOGIN_MAX_PER_ADDRESS_AND_USER,
        f"login:addr:{address}": LOGIN_MAX_PER_ADDRESS,
        f"login:user:{name}": LOGIN_MAX_PER_ACCOUNT,
    }


def login(username: str, password: str, *, address: str, action: str = "login") -> LoginResult:
    """A staff login from a client address, with its own transactions. The attempt is counted and
    committed before the password is checked (hotline.attempts.hit_all): of any number of concurrent
    attempts at most the limit reach the check. A success takes the attempt back from the address
    and account counts and forgets the address's failures for this name; it is audited as `action`
    ("password_confirmed" when a logged-in user confirms their password to change it: same limits)."""
    limits = login_limits(address, username)
    with new_session() as session:
        over = attempts.hit_all(session, limits, LOGIN_WINDOW)
        if over:  # refused before any check: counted only where the limit was reached
            attempts.take_back(session, [key for key in limits if key not in over])
        session.commit()
    if over:
        return LoginResult(None, "limited")
    with new_session() as session:
        try:
            user = authenticate(session, username, password)
        except LoginBusy:
            attempts.take_back(session, limits)  # not checked: not counted
            session.commit()
            return LoginResult(None, "busy")
        if user is None:
            return LoginResult(None, "wrong")
        first, *others = limits
        attempts.clear(session, first)
        attempts.take_back(session, others)
        audit.record(session, actor=user.username, action=action, entity="user", entity_id=user.id)
        session.commit()
        session.expunge(user)
        return LoginResult(user)


def end_sessions(session: Session, user: User, *, actor: str, reason: str) -> None:
    """End every session of `user` (each carries the session version it began with): one atomic
    increment, audited."""
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(user)
    audit.record(
        session, actor=actor, action="sessions_ended", entity="user", entity_id=user.id, comment=reason
    )
    session.flush()


def set_password(session: Session, user: User, password: str, *, actor: str) -> None:
    """Change a password; the user's sessions end (log in again with the new one)."""
    check_password(password, user.username)
    user.password_hash = hash_secret(password)
    user.must_change_password = False
    session.flush()
    end_sessions(session, user, actor=actor, reason="password_changed")


def reset_password(session: Session, user: User, password: str, *, actor: str) -> None:
    """An administrator sets a new password: the user's sessions end, and the user must choose a
    password of their own at the next login."""
    set_password(session, user, password, actor=actor)
    user.must_change_password = True
    audit.record(session, actor=actor, action="password_reset", entity="user", entity_id=user.id)
    session.flush()


def set_active(session: Session, user: User, active: bool, *, actor: str) -> None:
    """Enable or disable an account; disabling ends its sessions. Nobody disables their own account."""
    if not active and actor == user.username:
        raise UserError("不能停用自己的账号。")
    user.active = active
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user_enabled" if active else "user_disabled",
        entity="user",
        entity_id=user.id,
    )
    if not active:
        end_sessions(session, user, actor=actor, reason="disabled")
