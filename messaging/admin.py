from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import selectors
from .models import Delivery, Message, ScheduledMessage, SendBan, WebhookEvent


class ChannelTokenFilter(admin.SimpleListFilter):
    """A text box for a Channel Token: a list of every channel would not scale."""

    title = _("channel")
    parameter_name = "channel_token"
    template = "admin/kilopush_input_filter.html"

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(channel__token=self.value().strip())
        return queryset

    def choices(self, changelist):
        hidden = [(k, v) for k, v in changelist.params.items() if k not in (self.parameter_name, PAGE_VAR, ERROR_FLAG)]
        yield {
            "selected": bool(self.value()),
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "placeholder": "c_…",
            "hidden": hidden,
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }


class ImportanceFilter(admin.SimpleListFilter):
    title = _("priority")
    parameter_name = "important"

    def lookups(self, request, model_admin):
        return [("1", _("Important (time-sensitive)")), ("normal", _("Normal")), ("0", _("Silent (inbox only)"))]

    def queryset(self, request, queryset):
        value = {"1": True, "0": False, "normal": None}
        if self.value() in value:
            return queryset.filter(important=value[self.value()])
        return queryset


class DeliveryStateFilter(admin.SimpleListFilter):
    title = _("delivery state")
    parameter_name = "delivery_state"

    def lookups(self, request, model_admin):
        return [*Delivery.STATES, ("none", _("no delivery (inbox only)"))]

    def queryset(self, request, queryset):
        if self.value() in {state for state, _ in self.lookup_choices}:
            return selectors.messages_with_delivery_state(queryset, self.value())
        return queryset


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ["device", "state", "attempts", "provider_message_id", "last_error", "next_attempt_at", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("device")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """A read-only log of accepted messages and their per-device deliveries."""

    # The text second and the other columns short (the channel's name, a short date): at 1,280 px the
    # admin's sidebar and filters leave the list about 630 px, and the text must stay readable in it.
    # The recipient is on the message's page and searchable by token (=u_…); here it would crowd the text out.
    list_display = ["id", "excerpt", "channel_name", "importance", "deliveries", "sent_at"]
    list_filter = [ChannelTokenFilter, ImportanceFilter, DeliveryStateFilter, "created_at"]
    search_fields = ["text", "=recipient__token", "=channel__token"]
    fields = ["channel", "recipient", "title", "text", "format", "url", "attachment_url", "attachment_file", "importance",
              "had_devices", "created_at", "read_at", "priority", "emergency_retry", "emergency_until", "acknowledged_at"]
    readonly_fields = fields
    inlines = [DeliveryInline]
    actions = None
    ordering = ["-id"]
    show_full_result_count = False

    def get_queryset(self, request):
        return selectors.messages_for_admin(super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("text"))
    def excerpt(self, obj):
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"

    @admin.display(description=_("channel"), ordering="channel__name")
    def channel_name(self, obj):
        return obj.channel.name

    @admin.display(description=_("sent"), ordering="created_at")
    def sent_at(self, obj):
        return date_format(localtime(obj.created_at), "M j, H:i")

    @admin.display(description=_("priority"))
    def importance(self, obj):
        return obj.priority_label

    @admin.display(description=_("pushes"))
    def deliveries(self, obj):
        if not obj.delivery_count:
            return gettext("inbox only")
        return f"{obj.accepted_count} / {obj.delivery_count}"


@admin.register(SendBan)
class SendBanAdmin(admin.ModelAdmin):
    """Sender clients refused with 4029 after repeated failed attempts; deleting one lifts its ban."""

    list_display = ["client", "until", "banned_at"]
    search_fields = ["=client"]
    readonly_fields = ["client", "until", "banned_at"]
    ordering = ["-banned_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Each channel's recent webhook events and their attempts (issue 24): filter by Channel Token."""

    list_display = ["id", "created_at", "channel", "type", "message_id", "state", "attempts", "last_status",
                    "last_error", "delivered_at"]
    list_filter = [ChannelTokenFilter, "state", "type"]
    search_fields = ["=webhook_id", "=message_id"]
    readonly_fields = ["channel", "type", "message_id", "webhook_id", "payload", "state", "attempts", "next_attempt_at",
                       "last_status", "last_error", "created_at", "updated_at", "delivered_at"]
    exclude = ["dedupe_key", "claimed_at"]
    actions = None
    ordering = ["-id"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScheduledMessage)
class ScheduledMessageAdmin(admin.ModelAdmin):
    """Sends with `at` waiting for their release, and what became of them (issue 24): filter by Channel Token."""

    list_display = ["id", "at", "channel", "recipient", "state", "reason", "message_id", "created_at", "released_at"]
    list_filter = [ChannelTokenFilter, "state"]
    search_fields = ["=id", "=message__id"]
    fields = ["id", "channel", "recipient", "at", "state", "reason", "message", "created_at", "released_at",
              "ended_at", "priority", "ttl"]
    readonly_fields = fields
    actions = None
    ordering = ["-id"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel", "recipient")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
