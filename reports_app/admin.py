from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html

from channels_app import admin as channels_admin
from channels_app.models import Channel
from kilopush.admin_mixins import ObjectActionsMixin

from .models import Report
from .selectors import report_count_subquery
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

    @admin.display(description="channel", ordering="channel_name")
    def channel_link(self, obj):
        if obj.channel_id is None:
            return f"{obj.channel_name} (deleted)"
        url = reverse("admin:channels_app_channel_change", args=[obj.channel_id])
        return format_html('<a href="{}">{}</a>', url, obj.channel_name)

    @admin.display(description="message")
    def subject(self, obj):
        if not obj.message_ref:
            return "(the channel)"
        return obj.message_text if len(obj.message_text) <= 60 else obj.message_text[:59] + "…"

    @admin.action(description="Resolve", permissions=["change"])
    def resolve(self, request, queryset):
        reports = list(queryset)
        changed = report_resolve(reports=reports, by=request.user)
        for report in reports:
            self.log_change(request, report, "Resolved")
        self.message_user(request, f"Resolved {changed} report(s).", messages.SUCCESS)
        return self.redirect_after_action(request, reports)

    @admin.action(description="Block channel and resolve its reports", permissions=["change"])
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
        self.message_user(
            request, f"Blocked {len(channels)} channel(s); resolved {resolved} report(s).", messages.SUCCESS
        )
        return self.redirect_after_action(request, reports)


def _before(name, names, added):
    """`names` with `added` inserted before `name`."""
    names = list(names)
    names.insert(names.index(name), added)
    return names


admin.site.unregister(Channel)


@admin.register(Channel)
class ChannelAdmin(channels_admin.ChannelAdmin):
    """channels_app's Channel admin with each channel's abuse reports (a count column, a link to the queue)."""

    list_display = _before("created_at", channels_admin.ChannelAdmin.list_display, "report_count")
    fields = _before("created_at", channels_admin.ChannelAdmin.fields, "reports")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            report_count=report_count_subquery(), open_report_count=report_count_subquery(Report.OPEN)
        )

    @admin.display(description="reports", ordering="report_count")
    def report_count(self, obj):
        return obj.report_count

    @admin.display(description="abuse reports")
    def reports(self, obj):
        if not obj.report_count:
            return "none"
        url = reverse("admin:reports_app_report_changelist") + f"?q={obj.token}"
        return format_html('<a href="{}">{} ({} open)</a>', url, obj.report_count, obj.open_report_count)
