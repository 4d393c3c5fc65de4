import hashlib
import logging
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import MD5
from django.utils import timezone

from kilopush import crypto
from kilopush.errors import Forbidden, InvalidValue

from . import signals
from .auth import AccountBlocked, refused
from .models import AccessToken, AppUser, BlacklistEntry, Device, LinkCode
from .push_tokens import lock_push_token, validate_push_token
from .selectors import link_code_digest
from .subscriptions import web_subscription

logger = logging.getLogger(__name__)

LINK_CODE_LIFETIME = timedelta(minutes=10)
# No 0/O, 1/I/L: a code is read off one screen and typed on another.
LINK_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 10
# Live (unused, unexpired) codes an account may hold; a newer one retires the oldest.
LINK_CODES_LIVE_MAX = 5
# A session's last use is written at most this often: not one UPDATE per request.
ACCESS_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def new_access_token():
    return "a_" + secrets.token_urlsafe(32)


def access_token_create(*, user, label=""):
    """A new credential for the account (another browser or phone); returns the token, shown only once."""
    return _session_create(user=user, label=label)[0]


def _session_create(*, user, label=""):
    """(access token, its AccessToken row)."""
    access_token = new_access_token()
    session = AccessToken.objects.create(
        user=user, digest=crypto.digest(access_token), label=label[:64], last_used_at=timezone.now()
    )
    return access_token, session


def access_token_touch(*, session, now=None):
    """Records that this session (AccessToken) was just used, unless that was recorded less than a minute ago."""
    now = now or timezone.now()
    stale = now - ACCESS_TOKEN_TOUCH_INTERVAL
    if session.last_used_at is not None and session.last_used_at > stale:
        return
    AccessToken.objects.filter(pk=session.pk).filter(Q(last_used_at=None) | Q(last_used_at__lte=stale)).update(
        last_used_at=now
    )
    session.last_used_at = now


def _lock_account(user):
    """Serialises writes to one account's sessions and link codes (a row lock on the AppUser)."""
    AppUser.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()


@transaction.atomic
def session_revoke(*, user, session_id, current):
    """Signs out one of the account's other browsers or phones: its token answers 401 and its streams close.

    False if the account has no such session. The current session is refused (4003): session_sign_out is that.
    """
    if session_id == current.pk:
        raise Forbidden("This is the session making the request: sign it out with DELETE /v1/app/sessions/current")
    _lock_account(user)
    # Two browsers signing each other out at once: the second finds itself signed out, and the account keeps one.
    if not AccessToken.objects.filter(pk=current.pk).exists():
        raise refused("Invalid access token")
    _stop_pushes_of_session(user=user, session_id=session_id)
    deleted, _ = AccessToken.objects.filter(user=user, pk=session_id).delete()
    if deleted:
        signals.account_changed.send(sender=AppUser, user_id=user.pk)  # its open streams close
    return bool(deleted)


@transaction.atomic
def session_sign_out(*, user, current):
    """Signs this browser or phone out (its access token is deleted); never the account's last session.

    Without any access token nobody could read, or delete, the account again (4003 instead).
    """
    _lock_account(user)  # two last sessions signing out at once: one of them stays
    if not AccessToken.objects.filter(user=user).exclude(pk=current.pk).exists():
        raise Forbidden(
            "This is the only browser or phone signed in to this inbox: link another one first, or delete the account"
        )
    _stop_pushes_of_session(user=user, session_id=current.pk)
    AccessToken.objects.filter(pk=current.pk).delete()
    signals.account_changed.send(sender=AppUser, user_id=user.pk)


SIGNED_OUT = "Signed out"  # a device's deactivation_reason when the session that registered it was signed out


def _stop_pushes_of_session(*, user, session_id):
    """The devices a session registered stop receiving pushes when it is signed out: a revoked browser or
    phone (lost, stolen, handed on) must not keep showing the inbox's messages, 2FA codes among them.
    Signing in again and registering the device makes it active again, as a new subscription does."""
    Device.objects.filter(user=user, session_id=session_id, is_active=True).update(
        is_active=False, deactivated_at=timezone.now(), deactivation_reason=SIGNED_OUT
    )


@transaction.atomic
def link_code_create(*, user, now=None):
    """A single-use code, valid for 10 minutes, that links another browser or phone; returns (code, expires_at).

    The account keeps at most LINK_CODES_LIVE_MAX live codes: the oldest beyond that stop working.
    """
    now = now or timezone.now()
    code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
    expires_at = now + LINK_CODE_LIFETIME
    LinkCode.objects.filter(expires_at__lt=now - LINK_CODE_LIFETIME).delete()  # old ones are of no use
    _lock_account(user)
    LinkCode.objects.create(user=user, digest=link_code_digest(code), expires_at=expires_at)
    live = LinkCode.objects.filter(user=user, used_at=None, expires_at__gt=now).order_by("-expires_at", "-id")
    kept = list(live.values_list("pk", flat=True)[:LINK_CODES_LIVE_MAX])
    live.exclude(pk__in=kept).delete()
    return code, expires_at


@transaction.atomic
def link_code_redeem(*, code, label="", now=None):
    """Uses the code once; returns (user, access_token), or None for a wrong, used or expired code alike.

    An account blocked by staff gains no new access token (4023; the code stays unused)."""
    now = now or timezone.now()
    digest = link_code_digest(code)
    # One conditional UPDATE: two browsers racing for one code cannot both win.
    if not LinkCode.objects.filter(digest=digest, used_at=None, expires_at__gt=now).update(used_at=now):
        return None
    user = AppUser.objects.get(link_codes__digest=digest)
    if user.is_blocked:
        raise AccountBlocked()
    return user, access_token_create(user=user, label=label)


def devices_with_push_token(push_token):
    """The device holding this push token or endpoint (at most one: unique_device_push_token), on its index."""
    return (
        Device.objects.alias(push_token_md5=MD5("push_token"))
        .filter(push_token_md5=hashlib.md5(push_token.encode()).hexdigest(), push_token=push_token)
        .exclude(push_token="")
    )


def _take_push_token(*, user, push_token):
    """A token or endpoint belongs to one account: another account's device holding it is deleted.

    A phone reinstalled or a browser handed on must not keep receiving the old account's messages.
    """
    if not push_token:
        return
    lock_push_token(push_token)  # concurrent takers wait their turn instead of colliding on the unique index
    deleted, _ = devices_with_push_token(push_token).exclude(user=user).delete()
    if deleted:
        logger.info("A push token moved to account %s; the other account's device was deleted", user.pk)


def _retrying_a_race(write):
    """Runs write() in a savepoint; if another request took the same token meanwhile, once more (it moves)."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                return write()
        except IntegrityError:
            if attempt == 2:
                raise


def _push_fields(platform, push_token, subscription):
    """(push_token, p256dh, auth) to store: a web device's token is its checked subscription's endpoint."""
    if platform != Device.WEB:
        if push_token:
            validate_push_token(platform, push_token)  # 400/4005 before anything is written
        return push_token, "", ""
    if subscription is None:
        return "", "", ""
    checked = web_subscription(subscription)  # 400/4005 before anything is written
    return checked.endpoint, checked.p256dh, checked.auth


@transaction.atomic
def app_user_create(*, platform=Device.ANDROID, push_token="", subscription=None, sandbox=False, app_version="",
                    locale="", label=""):
    """Registers a new app install; returns (user, access_token). The token is shown only once."""
    push_token, p256dh, auth = _push_fields(platform, push_token, subscription)
    user = AppUser.objects.create()
    access_token, session = _session_create(user=user, label=label)

    def write():
        _take_push_token(user=user, push_token=push_token)
        Device.objects.create(
            user=user, platform=platform, push_token=push_token, web_p256dh=p256dh, web_auth=auth, sandbox=sandbox,
            app_version=app_version, locale=locale, last_seen_at=timezone.now(), session=session,
        )

    _retrying_a_race(write)
    return user, access_token


def device_register(*, user, platform, push_token="", subscription=None, sandbox=False, label=None, session=None):
    """Adds a device to the account; returns (device, created). The same token again is the same device.

    A token or endpoint another account holds moves here (that account's device is deleted). `session`: the
    AccessToken registering it, whose sign-out stops the device's pushes; a device signed out that way is
    active again when registered anew.
    """
    push_token, p256dh, auth = _push_fields(platform, push_token, subscription)
    if not push_token:
        raise InvalidValue("push_token is required" if platform != Device.WEB else "subscription is required")

    def write():
        _take_push_token(user=user, push_token=push_token)
        device = devices_with_push_token(push_token).filter(user=user).select_for_update().first()
        created = device is None
        if created:
            device = Device(user=user, push_token=push_token)
        renewed = created or (device.platform, device.sandbox, device.web_p256dh, device.web_auth) != (
            platform, sandbox, p256dh, auth
        )
        device.platform, device.sandbox, device.web_p256dh, device.web_auth = platform, sandbox, p256dh, auth
        if label is not None:
            device.label = label
        renewed = _takes_session(device, session) or renewed  # first: it always takes the session
        device.last_seen_at = timezone.now()
        if renewed:
            device.is_active, device.deactivated_at, device.deactivation_reason = True, None, ""
        device.save()
        return device, created

    return _retrying_a_race(write)


def _takes_session(device, session):
    """The registering session becomes the device's; True if the device had stopped because its session was
    signed out (it may receive again: a session of the account registered it)."""
    if session is None:
        return False
    device.session = session
    return not device.is_active and device.deactivation_reason == SIGNED_OUT


def device_delete(*, user, device_id):
    """Deletes one of the user's devices (with its pending deliveries); False if there is no such device of theirs."""
    deleted, _ = Device.objects.filter(user=user, pk=device_id).delete()
    return bool(deleted)


def app_user_set_blocked(*, user, blocked):
    AppUser.objects.filter(pk=user.pk).update(is_blocked=blocked)
    user.is_blocked = blocked
    if blocked:
        signals.account_changed.send(sender=AppUser, user_id=user.pk)  # its open streams close


def app_user_set_read_receipts(*, user, enabled):
    """Whether senders see that (and when) this user read their messages."""
    AppUser.objects.filter(pk=user.pk).update(read_receipts=enabled)
    user.read_receipts = enabled


def blacklist_add(*, user, channel):
    entry, _ = BlacklistEntry.objects.get_or_create(user=user, channel=channel)
    return entry


def blacklist_remove(*, user, channel):
    BlacklistEntry.objects.filter(user=user, channel=channel).delete()


def app_user_delete(*, user):
    """Deletes the user with their devices, channels (and their logos), messages and blacklist."""
    with transaction.atomic():
        signals.account_deleting.send(sender=AppUser, user=user)  # channels_app: the logos go after commit
        AppUser.objects.filter(pk=user.pk).delete()
        signals.account_changed.send(sender=AppUser, user_id=user.pk)  # its open streams close


def device_update(*, user, platform, push_token, sandbox=None, app_version=None, locale=None, session=None):
    """Records the install's current push token (PUT /v1/app/device, the one-device API of the first apps).

    The device is the account's one holding this token, else its most recent device of the same kind
    (phone or web), else a new one. A new token makes the device deliverable again; the same dead
    token sent again stays inactive: pushing to it would only fail again.
    """
    web = platform == Device.WEB
    if push_token and not web:
        validate_push_token(platform, push_token)

    def write():
        nonlocal push_token
        device = None
        if not web:
            _take_push_token(user=user, push_token=push_token)
            device = devices_with_push_token(push_token).filter(user=user).select_for_update().first()
        if device is None:
            kind = (Device.WEB,) if web else Device.PHONE_PLATFORMS
            mine = Device.objects.select_for_update().filter(user=user, platform__in=kind)
            device = mine.order_by("-updated_at", "-id").first() or Device(user=user)
        if web:
            push_token = device.push_token  # a browser's endpoint comes with its subscription (POST /v1/app/devices)
        renewed = (
            device.pk is None
            or device.platform != platform
            or device.push_token != push_token
            or (sandbox is not None and device.sandbox != sandbox)
        )
        device.platform = platform
        if device.push_token != push_token:
            device.push_token, device.web_p256dh, device.web_auth = push_token, "", ""
        if sandbox is not None:
            device.sandbox = sandbox
        if app_version is not None:
            device.app_version = app_version
        if locale is not None:
            device.locale = locale
        renewed = _takes_session(device, session) or renewed  # first: it always takes the session
        device.last_seen_at = timezone.now()
        if renewed:
            device.is_active = True
            device.deactivated_at = None
            device.deactivation_reason = ""
        device.save()
        return device

    return _retrying_a_race(write)
