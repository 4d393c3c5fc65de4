from kilopush import crypto

from .models import AppUser


def app_user_by_access_token(access_token):
    if not access_token:
        return None
    return AppUser.objects.filter(access_token_digest=crypto.digest(access_token)).first()


def app_user_by_token(token):
    return AppUser.objects.filter(token=token).first()
