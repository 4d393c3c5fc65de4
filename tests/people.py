"""App users for the tests: make_person() registers one through the real service."""

from dataclasses import dataclass

from users_app.services import app_user_create


@dataclass
class Person:
    user: object
    access_token: str

    @property
    def token(self):
        return self.user.token

    @property
    def auth(self):
        return {"HTTP_AUTHORIZATION": f"Bearer {self.access_token}"}


def make_person(platform="android", push_token=None, **kwargs):
    if push_token is None:
        push_token = "fcm-" + platform if platform == "android" else "ab" * 32
    user, access_token = app_user_create(platform=platform, push_token=push_token, **kwargs)
    return Person(user=user, access_token=access_token)
