"""factory_boy factories for the platform's models."""
from __future__ import annotations

import functools

import factory
from django.contrib.auth.hashers import make_password

from apps.accounts.models import Permission, Role, User
from apps.departments.models import Department

DEFAULT_PASSWORD = "Corr3ct-Horse-Battery"


@functools.lru_cache(maxsize=1)
def default_password_hash() -> str:
    # Argon2 is deliberately slow; hash the shared test password once per session.
    return make_password(DEFAULT_PASSWORD)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"dept-{n}")
    description = factory.LazyAttribute(lambda o: f"{o.name} description")
    parent = None
    status = 1


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"role-{n}")
    description = "test role"
    status = 1

    @factory.post_generation
    def codes(self, create, extracted, **kwargs):
        if create and extracted is not None:
            self.permissions.set(Permission.objects.filter(code__in=list(extracted)))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.LazyFunction(default_password_hash)
    real_name = factory.LazyAttribute(lambda o: f"Real {o.username}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    phone = "+86 10 1234"
    department = factory.SubFactory(DepartmentFactory)
    role = factory.SubFactory(RoleFactory)
    status = 1
