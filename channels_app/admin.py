from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from kilopush.admin_mixins import ObjectActionsMixin

from . import selectors
from .models import Channel
from .quota import channel_daily_limit, channel_sent_today
from .services import channel_rotate_secret, channel_set_blocked, channel_set_verified


@admin.register(Channel)
class ChannelAdmin(ObjectActionsMixin, admin.ModelAdmin):
    """Channels are created by their owners in the app; staff verify, block and rotate secrets.

    reports_app/admin.py registers it again with the channel's abuse reports (reports_app sits above channels_app).

    The Channel Secret Key (and its encrypted form and digest) is never a field here,
    and log messages never contain it.
    """

    list_display = [
        "logo_thumbnail",
        "name",
        "token",
        "owner_token",
        "is_verified",
        "is_blocked",
        "sent_today",
        "created_at",
    ]
    list_display_links = ["name"]
    list_filter = ["is_verified", "is_blocked"]
    search_fields = ["=token", "name", "=owner__token"]
    fields = [
        "name",
        "logo_preview",
        "token",
        "owner_link",
        "is_verified",
        "is_blocked",
        "sent_today_detail",
        "created_at",
    ]
    readonly_fields = fields
    actions = ["verify", "unverify", "block", "unblock", "rotate_secret"]
    ordering = ["-id"]
    show_full_result_count = False

    def get_queryset(self, request):
        return selectors.channels_for_admin(super().get_queryset(request), now=timezone.now())

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("logo"))
    def logo_thumbnail(self, obj):
        if not obj.logo:
            return ""
        return format_html('<img src="{}" alt="" width="32" height="32" style="object-fit: contain">', obj.logo.url)

    @admin.display(description=_("logo"))
    def logo_preview(self, obj):
        if not obj.logo:
            return "-"
        return format_html('<img src="{}" alt="" width="128" height="128" style="object-fit: contain">', obj.logo.url)

    @admin.display(description=_("owner"), ordering="owner__token")
    def owner_token(self, obj):
        return obj.owner.token

    @admin.display(description=_("owner"))
    def owner_link(self, obj):
        url = reverse("admin:users_app_appuser_change", args=[obj.owner_id])
        return format_html('<a href="{}">{}</a>', url, obj.owner.token)

    @admin.display(description=_("sent today"), ordering="sent_today")
    def sent_today(self, obj):
        limit = channel_daily_limit(obj)
        return gettext("no limit") if limit is None else f"{obj.sent_today} / {limit}"

    @admin.display(description=_("sent today (UTC)"))
    def sent_today_detail(self, obj):
        limit = channel_daily_limit(obj)
        if limit is None:
            return gettext("verified: no daily limit")
        sent = channel_sent_today(channel=obj, now=timezone.now())
        return gettext("%(sent)s of %(limit)s") % {"sent": sent, "limit": limit}

    def _apply(self, request, queryset, change, log_message, done):
        """log_message stays English (the admin's history); done(count) is the sentence staff read."""
        channels = list(queryset)
        for channel in channels:
            change(channel)
            self.log_change(request, channel, log_message)
        self.message_user(request, done(len(channels)) % {"count": len(channels)}, messages.SUCCESS)
        return self.redirect_after_action(request, channels)

    @admin.action(description=_("Verify"), permissions=["change"])
    def verify(self, request, queryset):
        return self._apply(request, queryset, lambda c: channel_set_verified(channel=c, verified=True), "Verified",
                           lambda n: ngettext("Verified: %(count)s channel.", "Verified: %(count)s channels.", n))

    @admin.action(description=_("Unverify"), permissions=["change"])
    def unverify(self, request, queryset):
        return self._apply(request, queryset, lambda c: channel_set_verified(channel=c, verified=False), "Unverified",
                           lambda n: ngettext("Unverified: %(count)s channel.", "Unverified: %(count)s channels.", n))

    @admin.action(description=_("Block"), permissions=["change"])
    def block(self, request, queryset):
        return self._apply(request, queryset, lambda c: channel_set_blocked(channel=c, blocked=True), "Blocked",
                           lambda n: ngettext("Blocked: %(count)s channel.", "Blocked: %(count)s channels.", n))

    @admin.action(description=_("Unblock"), permissions=["change"])
    def unblock(self, request, queryset):
        return self._apply(request, queryset, lambda c: channel_set_blocked(channel=c, blocked=False), "Unblocked",
                           lambda n: ngettext("Unblocked: %(count)s channel.", "Unblocked: %(count)s channels.", n))

    @admin.action(description=_("Rotate secret"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        # The new secret is not shown: only the owner reads it, in the app.
        return self._apply(
            request, queryset, lambda c: channel_rotate_secret(channel=c), "Rotated the Channel Secret Key",
            lambda n: ngettext("Rotated the Channel Secret Key: %(count)s channel.",
                               "Rotated the Channel Secret Key: %(count)s channels.", n),
        )

