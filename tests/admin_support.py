"""Helpers shared by the admin tests: staff users (fixtures, registered in tests/conftest.py), admin actions."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client



def changelist_url(app_label, model):
    return f"/admin/{app_label}/{model}/"


def run_action(client, url, action, objects):
    """POSTs a changelist action for `objects` like the admin's action form does."""
    return client.post(url, {"action": action, "_selected_action": [str(obj.pk) for obj in objects], "index": 0})


def login_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def moderator(db):
    user = User.objects.create_user("mod", "mod@example.com", "a long moderator password", is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def moderator_client(moderator):
    return login_client(moderator)
