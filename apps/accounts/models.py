from __future__ import annotations

import unicodedata

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Now
from django.utils.functional import lazy
from django.utils.translation import gettext as _

from apps.departments.models import Department
from djs_platform.tenancy import RestrictedQuerySet, descendants_of
from djs_platform.timestamps import UpdateTimeField

STATUS_CHOICES = [(0, "disabled"), (1, "enabled")]


def normalize_username(name: str) -> str:
    """The stored form of a username: Unicode NFKC (fullwidth ``ａｄｍｉｎ`` is ``admin``)."""
    return unicodedata.normalize("NFKC", name)


#: Bounds of a username, counted in characters (code points) of its stored NFKC form.
USERNAME_MIN_LENGTH, USERNAME_MAX_LENGTH = 2, 50
USERNAME_RULE = lazy(lambda: _("a username is %(min)s-%(max)s letters or digits (any script) and _ . @ -")
                     % {"min": USERNAME_MIN_LENGTH, "max": USERNAME_MAX_LENGTH}, str)()
_USERNAME_SYMBOLS = frozenset("_.@-")
# Letters (Lu Ll Lt Lm Lo), decimal digits (Nd) and letter numbers (Nl: 〇 in Chinese names; NFKC has already made
# Roman numerals Latin letters). Combining marks (Mn Mc) only after one of those: Devanagari, Thai, Bengali ...
# write vowels with them; a name cannot start with, or be, a stack of marks.
_USERNAME_BASES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl"})
_USERNAME_MARKS = frozenset({"Mn", "Mc"})


def username_problem(name: str) -> str | None:
    """Why ``name`` cannot be a username (None: it can). The one rule every door applies (REST, the user
    services behind gRPC and commands, ``bootstrap``), on the NFKC form that is stored (issue 18):
    2-50 characters of Unicode letters and digits, ``_ . @ -``, and combining marks following a letter or digit.
    Whitespace, other punctuation, symbols (emoji), format and control characters (zero-width, bidi) are not."""
    name = normalize_username(name)
    if not USERNAME_MIN_LENGTH <= len(name) <= USERNAME_MAX_LENGTH:
        return (_("must be %(min)s-%(max)s characters (after Unicode NFKC normalisation), not %(length)s")
                % {"min": USERNAME_MIN_LENGTH, "max": USERNAME_MAX_LENGTH, "length": len(name)})
    after_base = False
    for char in name:
        category = unicodedata.category(char)
        if category in _USERNAME_BASES:
            after_base = True
        elif category in _USERNAME_MARKS and after_base:
            pass
        elif char in _USERNAME_SYMBOLS:
            after_base = False
        else:
            label = unicodedata.name(char, "")
            return (_("%(character)s is not allowed: %(rule)s")
                    % {"character": f"U+{ord(char):04X}{' ' + label if label else ''}", "rule": USERNAME_RULE})
    return None


def username_key(name: str) -> str:
    """What login looks up and the lockout is keyed by: casefold(NFKC(name)), compared byte for byte.

    Case and compatibility forms fold (``ADMIN``, ``ａｄｍｉｎ`` are ``admin``); accents do not (``ådmin`` is
    another name), on every backend: MariaDB compares this column under a binary collation, never under the
    accent-insensitive ``utf8mb4_unicode_ci`` the other text columns use."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


class BinaryCharField(models.CharField):
    """A ``CharField`` compared byte for byte: ``utf8mb4_bin`` on MySQL/MariaDB (SQLite compares binary by
    default). Keys of identity and token state must never match "similar" strings."""

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "mysql":
            params["collation"] = "utf8mb4_bin"
        return params


class Permission(models.Model):
    name = models.CharField(max_length=50)
    code = models.CharField(max_length=50, unique=True)
    description = models.CharField(max_length=255, null=True, blank=True)
    status = models.SmallIntegerField(default=1, db_default=1)
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    class Meta:
        db_table = "permission"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=[0, 1]), name="permission_status_valid"),
        ]

    def __str__(self) -> str:
        return self.code


class Role(models.Model):
    """A named set of permission codes; roles are platform-wide, assigned to users."""

    name = models.CharField(max_length=50, unique=True)
    description = models.CharField(max_length=255, null=True, blank=True)
    status = models.SmallIntegerField(default=1, db_default=1)
    permissions = models.ManyToManyField(Permission, through="RolePermission", related_name="roles")
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    class Meta:
        db_table = "role"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=[0, 1]), name="role_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class RolePermission(models.Model):
    role = models.ForeignKey(Role, on_delete=models.CASCADE)
    permission = models.ForeignKey(Permission, on_delete=models.CASCADE)
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    class Meta:
        db_table = "role_permission"
        constraints = [models.UniqueConstraint(fields=["role", "permission"], name="idx_role_perm")]


class UserQuerySet(RestrictedQuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True


class User(AbstractBaseUser):
    """A person; belongs to one department and holds one role. ``AUTH_USER_MODEL``."""

    last_login = None  # not part of the schema

    #: Stored NFKC (:func:`normalize_username`), checked by :func:`username_problem`. Binary collation: the
    #: uniqueness that counts is ``username_key``'s; MariaDB's accent- and kana-insensitive ``utf8mb4_unicode_ci``
    #: must not add a rule of its own (``ålice`` beside ``alice``, ``ハナ`` beside ``はな``; issue 18).
    username = BinaryCharField(max_length=USERNAME_MAX_LENGTH, unique=True)
    #: casefold(NFKC(username)) (:func:`username_key`): unique, binary collation; what login looks up.
    username_key = BinaryCharField(max_length=150, unique=True)
    real_name = models.CharField(max_length=50)
    email = models.CharField(max_length=100, null=True, blank=True)
    phone = models.CharField(max_length=20, null=True, blank=True)
    department = models.ForeignKey("departments.Department", on_delete=models.PROTECT, related_name="users")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="users")
    status = models.SmallIntegerField(default=1, db_default=1)
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    update_time = UpdateTimeField(auto_now=True, db_default=Now())

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["real_name"]

    objects = UserManager()

    class Meta:
        db_table = "user"
        ordering = ["id"]
        indexes = [models.Index(fields=["status"], name="idx_user_status")]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=[0, 1]), name="user_status_valid"),
        ]

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status == 1

    def save(self, *args, **kwargs) -> None:
        """Every write path (services, bootstrap, factories) stores the NFKC form and its folded key."""
        self.username = normalize_username(self.username)
        self.username_key = username_key(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_key"}
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.username

    # --- what the platform asks a user (djs_platform.tenancy, djs_platform.tokens): memoised per instance, i.e.
    # per request (authentication loads the user once per request) ---------------------------------------------

    def department_scope_ids(self) -> frozenset[int]:
        """The departments this user may see: their own and everything below it."""
        cached = self.__dict__.get("_scope_ids")
        if cached is None:
            cached = descendants_of(self.department_id, list(Department.objects.values_list("id", "parent_id")))
            self.__dict__["_scope_ids"] = cached
        return cached

    def permission_codes(self) -> frozenset[str]:
        """Codes granted through the user's role, while the role (and each permission) is enabled."""
        cached = self.__dict__.get("_permission_codes")
        if cached is None:
            cached = frozenset(Permission.objects.filter(roles__id=self.role_id, roles__status=1, status=1)
                               .values_list("code", flat=True))
            self.__dict__["_permission_codes"] = cached
        return cached

    def is_usable(self) -> str | None:
        """None when the account may act; else why not: ``"account"`` (disabled) or ``"department"`` (its
        department or an ancestor is disabled)."""
        if "_usable" in self.__dict__:
            return self.__dict__["_usable"]
        if not self.is_active:
            return "account"
        if not self.department.enabled_with_ancestors():
            return "department"
        return None

    def remember_authorization(self, *, scope_ids: frozenset[int], permission_codes: frozenset[str],
                               usable: str | None) -> None:
        """Answers computed elsewhere for this instance (:mod:`apps.accounts.authz`, keyed by the authz
        generation), so the methods above ask no query."""
        self.__dict__.update(_scope_ids=scope_ids, _permission_codes=permission_codes, _usable=usable)


class AuditLog(models.Model):
    """Who did what to which object, when and from where. Rows survive the deletion of their actor."""

    SCOPE_FIELD = "department_id"

    user_id = models.BigIntegerField(null=True, blank=True)
    username = models.CharField(max_length=50)
    department_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=50)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64, null=True, blank=True)
    object_repr = models.CharField(max_length=255, blank=True, default="")
    changes = models.JSONField(null=True, blank=True)
    client_ip = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.CharField(max_length=255, blank=True, default="")
    via = models.CharField(max_length=10, default="rest")
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now(), db_index=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        db_table = "audit_log"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="idx_audit_object"),
            models.Index(fields=["user_id"], name="idx_audit_user"),
            models.Index(fields=["department_id"], name="idx_audit_department"),
        ]


class TokenState(models.Model):
    """Token state without Redis (``redis.url`` empty): revocation marks, refresh-use marks, throttle counters.

    Never Django's database cache, whose cull drops the alphabetically first third of its keys when full and so
    brought revoked tokens back (issue 16, finding 4). A row is dead once ``expires_at`` (epoch seconds) has
    passed; readers ignore it at once and a process deletes such rows at most once an hour, on a write
    (:mod:`djs_platform.token_state`)."""

    key = BinaryCharField(max_length=191, primary_key=True)
    value = models.FloatField()
    expires_at = models.FloatField(db_index=True)

    class Meta:
        db_table = "token_state"


class AuthzGeneration(models.Model):
    """One row (id 1) whose ``value`` changes in the same transaction as anything that decides who may do what:
    a user (role, status, department, any field), a role (status, its permissions), a permission, the
    department tree (names, parents, status). Per-process caches of what authentication loads per request are
    keyed by it (:mod:`apps.accounts.authz`), so the request after a commit anywhere sees the change.

    The value is a new random 63-bit number, not an increment: a rolled-back transaction's value is never
    reused by a later one (an increment would be, and a cache filled under it would then be taken as current).
    """

    id = models.SmallIntegerField(primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "authz_generation"


#: What every API token starts with: ``djs_pat_`` then 43 URL-safe characters (32 random bytes).
API_TOKEN_PREFIX = "djs_pat_"
#: Characters of a token shown (and stored) for recognising it: the prefix and the first 6 random characters.
API_TOKEN_DISPLAY_LENGTH = len(API_TOKEN_PREFIX) + 6


class ApiTokenQuerySet(RestrictedQuerySet):
    pass


class ApiToken(models.Model):
    """A long-lived personal API token of a user (service accounts are ordinary users with a role; issue 19,
    DESIGN §14.3). It authenticates as its user, with the user's current department scope and role.

    The secret (``djs_pat_<43 URL-safe characters>``, 32 random bytes) is shown once, when the token is made;
    only its SHA-256 (``token_hash``, unique: authentication is one indexed lookup) and a display ``prefix`` are
    stored. A plain hash suffices where a password needs Argon2: the secret has 256 bits of entropy, so there is
    nothing to guess from the hash. Dead when ``revoked_at`` is set (by its user, a ``user:manage`` holder, or
    when the user is disabled or gets another role) or ``expires_at`` has passed; ``last_used_at`` is written at
    most once a minute. Scoped by the user's department (``user:manage`` over that department lists and revokes
    them), never shown to anyone again in full."""

    SCOPE_FIELD = "user__department_id"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = BinaryCharField(max_length=API_TOKEN_DISPLAY_LENGTH)
    #: Hex SHA-256 of the whole token string.
    token_hash = BinaryCharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    create_time = models.DateTimeField(auto_now_add=True, db_default=Now())
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        db_table = "api_token"
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="idx_api_token_user")]

    def state(self, now) -> str:
        """``revoked``, ``expired`` or ``active`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
