"""User accounts and credentials: users, password sign-in, sessions, API tokens, and the
account life cycle (docs/access.md). Everything here is storage and rules; the web layer
(guardian/web/auth.py) turns it into cookies, forms and a Principal, and the CLI
(`guardian users …`) into commands. Callers use the names below (`from guardian import
users; users.add_user(...)`); each lives in the module of its concern:

- `records`: User, UserError, Origin, Change, e-mail addresses, display names, the clock
  and digests;
- `schema`: the users, api_tokens and user_sessions tables and their upgrade (db init);
- `passwords`: argon2 hashing, generated passwords, sign-in under the throttle;
- `directory`: roles, a role's orgs checked against the organisation reference, adding,
  finding and listing users, everyone's display name by e-mail (`display_names`);
- `changes`: each account's state (users list), disable, enable, reset the password,
  change the name, role and scope (`change_user`);
- `sessions`: server-side sessions behind the cookie;
- `tokens`: API bearer tokens, their use, the live ones of a user, and revocation;
- `demo_logins`: the demo users and var/demo-logins.txt.

Passwords are stored as argon2 hashes; API tokens and session ids as SHA-256 hashes, so a
copy of the database gives no working credential. Tests that set the clock or the hasher
patch the module that owns it (`records.utcnow`, `passwords._hasher`).
"""

from __future__ import annotations

from guardian.users.changes import (
    Account,
    accounts,
    change_user,
    disable_user,
    enable_user,
    reset_password,
)
from guardian.users.demo_logins import (
    DEMO_LOGINS_FILE,
    DEMO_NAMES,
    DEMO_USERS,
    demo_orgs,
    demo_orgs_of,
    ensure_demo_users,
)
from guardian.users.directory import (
    ROLES,
    add_user,
    display_names,
    find_user,
    list_users,
    resolve_orgs,
    user_by_id,
)
from guardian.users.passwords import (
    MIN_PASSWORD,
    SignIn,
    authenticate,
    generate_password,
    hash_password,
)
from guardian.users.records import (
    COMMAND_LINE,
    Change,
    Origin,
    User,
    UserError,
    aware,
    digest,
    normalise_display_name,
    normalise_email,
    readable_email,
    utcnow,
)
from guardian.users.schema import TOKEN_DAYS, api_tokens, upgrade, user_sessions, users
from guardian.users.sessions import (
    SESSION_ABSOLUTE,
    SESSION_IDLE,
    Session,
    end_session,
    load_session,
    start_session,
)
from guardian.users.tokens import (
    LAST_USED_EVERY,
    TOKEN_PREFIX,
    Token,
    create_token,
    live_tokens,
    revoke_token,
    revoke_tokens,
    user_for_token,
)

__all__ = [
    "COMMAND_LINE", "DEMO_LOGINS_FILE", "DEMO_NAMES", "DEMO_USERS", "LAST_USED_EVERY",
    "MIN_PASSWORD", "ROLES", "SESSION_ABSOLUTE", "SESSION_IDLE", "TOKEN_DAYS", "TOKEN_PREFIX",
    "Account", "Change", "Origin", "Session", "SignIn", "Token", "User", "UserError",
    "accounts", "add_user", "api_tokens", "authenticate", "aware", "change_user",
    "create_token",
    "demo_orgs", "demo_orgs_of", "digest", "disable_user", "display_names", "enable_user",
    "end_session", "ensure_demo_users", "find_user", "generate_password", "hash_password",
    "list_users", "live_tokens", "load_session", "normalise_display_name", "normalise_email",
    "readable_email", "reset_password", "resolve_orgs", "revoke_token", "revoke_tokens",
    "start_session", "upgrade", "user_by_id", "user_for_token", "user_sessions", "users",
    "utcnow",
]
