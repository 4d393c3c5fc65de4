from django.db.models import Exists, OuterRef
from django.utils import timezone

from kilopush import crypto
from kilopush.queries import count_subquery

from .models import AccessToken, AppUser, Device


def app_user_by_access_token(access_token):
    """The account of a valid access token, or None; it carries which of its sessions the token is."""
    if not access_token:
        return None
    digest = crypto.digest(access_token)
    session = AccessToken.objects.select_related("user").filter(digest=digest).first()
    if session is None:
        return None
    user = session.user
    user.access_token_digest = digest  # which of the account's credentials this request came with
    user.session = session
    return user


def sessions_of(user):
    """The account's access tokens (one per signed-in browser or phone), oldest first."""
    return user.access_tokens.order_by("created_at", "id")


def link_code_digest(code):
    """The stored digest of a code as a person typed it: case, spaces and dashes do not matter."""
    return crypto.digest("".join(ch for ch in code.upper() if ch not in " -\t"))


def link_code_owner(*, code, now=None):
    """The account a live (unused, unexpired) code would link to, without using it; else None."""
    now = now or timezone.now()
    return AppUser.objects.filter(
        link_codes__digest=link_code_digest(code), link_codes__used_at=None, link_codes__expires_at__gt=now
    ).first()


def devices_of(user):
    return user.devices.order_by("created_at", "id")


# --- staff admin changelist ---


def _reverse_count(related_name):
    """count_subquery over a relation a higher app declares to AppUser (Channel.owner, Message.recipient), reached
    through the ORM's reverse relation: users_app imports neither app (pyproject.toml's layers)."""
    relation = AppUser._meta.get_field(related_name)
    return count_subquery(relation.related_model.objects.all(), relation.field.name)


def app_users_for_admin(queryset):
    """App users with their numbers of devices, active devices, channels and received messages (one query)."""
    return queryset.annotate(
        device_count=count_subquery(Device.objects.all(), "user"),
        has_active_devices=Exists(Device.objects.filter(user=OuterRef("pk"), is_active=True)),
        channel_count=_reverse_count("channels"),
        message_count=_reverse_count("messages"),
    )


def app_users_with_active_devices(queryset, has_active):
    active = Exists(Device.objects.filter(user=OuterRef("pk"), is_active=True))
    return queryset.filter(active) if has_active else queryset.filter(~active)


def app_user_by_token(token):
    """The app user whose User Token this is, or None."""
    if not isinstance(token, str) or not token.startswith("u_"):
        return None
    return AppUser.objects.filter(token=token).first()
