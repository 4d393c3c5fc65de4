"""App users for the tests: make_person() registers one through the real service."""

import itertools
from dataclasses import dataclass

from users_app.services import app_user_create


@dataclass
class Person:
    user: object
    access_token: str
    push_token: str = ""  # registered with; each person's is their own (a token belongs to one account)

    @property
    def token(self):
        return self.user.token

    @property
    def auth(self):
        return {"HTTP_AUTHORIZATION": f"Bearer {self.access_token}"}


_person_numbers = itertools.count(1)


def make_person(platform="android", push_token=None, **kwargs):
    if push_token is None:
        number = next(_person_numbers)
        push_token = f"fcm-android-{number}" if platform == "android" else f"{number:064x}"
    user, access_token = app_user_create(platform=platform, push_token=push_token, **kwargs)
    return Person(user=user, access_token=access_token, push_token=user.devices.get().push_token)
