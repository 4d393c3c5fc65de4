from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from channels_app.models import Channel
from kilopush.admin_mixins import ObjectActionsMixin

from .models import Report
from .services import channel_block_and_resolve_reports, report_resolve


@admin.register(Report)
class ReportAdmin(ObjectActionsMixin, admin.ModelAdmin):
    """The moderation queue. Reports come from the app; staff resolve them or block the channel.

    The reporter's User Token is shown here only: the API never tells a channel who reported it.
    """

    list_display = ["id", "created_at", "status", "reason", "channel_link", "subject", "reporter_token", "blocked"]
    list_display_links = ["id"]
    list_filter = ["status", "reason", "created_at"]
    search_fields = ["=channel_token", "channel_name"]
    fields = [
        "status",
        "reason",
        "comment",
        "channel_link",
        "channel_name",
        "channel_token",
        "sender_token",
        "message_ref",
        "message_text",
        "message_url",
        "message_sent_at",
        "reporter_token",
        "blocked",
        "created_at",
        "resolved_at",
        "resolved_by",
    ]
    readonly_fields = fields
    actions = ["resolve", "block_channel_and_resolve"]
    ordering = ["-id"]
    show_full_result_count = False
    list_select_related = ["channel"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("channel"), ordering="channel_name")
    def channel_link(self, obj):
        if obj.channel_id is None:
            return gettext("%(name)s (deleted)") % {"name": obj.channel_name}
        url = reverse("admin:channels_app_channel_change", args=[obj.channel_id])
        return format_html('<a href="{}">{}</a>', url, obj.channel_name)

    @admin.display(description=_("message"))
    def subject(self, obj):
        if not obj.message_ref:
            return gettext("(the channel)")
        return obj.message_text if len(obj.message_text) <= 60 else obj.message_text[:59] + "…"

    @admin.action(description=_("Resolve"), permissions=["change"])
    def resolve(self, request, queryset):
        reports = list(queryset)
        changed = report_resolve(reports=reports, by=request.user)
        for report in reports:
            self.log_change(request, report, "Resolved")
        self.message_user(
            request, ngettext("Resolved %(count)s report.", "Resolved %(count)s reports.", changed) % {"count": changed},
            messages.SUCCESS,
        )
        return self.redirect_after_action(request, reports)

    @admin.action(description=_("Block channel and resolve its reports"), permissions=["change"])
    def block_channel_and_resolve(self, request, queryset):
        if not request.user.has_perm("channels_app.change_channel"):
            raise PermissionDenied
        reports = list(queryset)
        channels = Channel.objects.filter(pk__in={r.channel_id for r in reports if r.channel_id})
        resolved = 0
        for channel in channels:
            resolved += channel_block_and_resolve_reports(channel=channel, by=request.user)
            self.log_change(request, channel, "Blocked (abuse reports)")
        for report in reports:
            self.log_change(request, report, "Resolved: channel blocked")
        blocked = ngettext("Blocked %(count)s channel", "Blocked %(count)s channels", len(channels)) % {
            "count": len(channels)}
        done = ngettext("resolved %(count)s report.", "resolved %(count)s reports.", resolved) % {"count": resolved}
        self.message_user(request, f"{blocked}; {done}", messages.SUCCESS)
        return self.redirect_after_action(request, reports)
