from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

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

    @admin.display(description=_("reports"), ordering="report_count")
    def report_count(self, obj):
        return obj.report_count

    @admin.display(description=_("abuse reports"))
    def reports(self, obj):
        if not obj.report_count:
            return gettext("none")
        url = reverse("admin:reports_app_report_changelist") + f"?q={obj.token}"
        return format_html('<a href="{}">{}</a>', url, interpolate_open(obj.report_count, obj.open_report_count))


def interpolate_open(count, open_count):
    """"3 (1 open)": a channel's abuse reports, and how many of them wait for staff."""
    return ngettext("%(count)s (%(open)s open)", "%(count)s (%(open)s open)", open_count) % {
        "count": count, "open": open_count}
