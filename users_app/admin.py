from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kilopush.admin_mixins import ObjectActionsMixin

from . import selectors
from .models import AppUser, BlacklistEntry, Device
from .services import app_user_set_blocked


class HasActiveDevicesFilter(admin.SimpleListFilter):
    title = _("active devices")
    parameter_name = "active_devices"

    def lookups(self, request, model_admin):
        return [("yes", _("Has active devices")), ("no", _("No active device"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return selectors.app_users_with_active_devices(queryset, self.value() == "yes")
        return queryset


class DeviceInline(admin.TabularInline):
    model = Device
    # The push token (or Web Push endpoint and keys) is the provider's address for the device: not shown to staff.
    fields = [
        "platform",
        "label",
        "is_active",
        "deactivated_at",
        "deactivation_reason",
        "sandbox",
        "app_version",
        "locale",
        "created_at",
        "last_seen_at",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AppUser)
class AppUserAdmin(ObjectActionsMixin, admin.ModelAdmin):
    """App users are created by the app; staff only block and unblock them (through the service)."""

    list_display = [
        "token",
        "is_blocked",
        "device_count",
        "active_devices",
        "channel_count",
        "message_count",
        "created_at",
    ]
    list_filter = ["is_blocked", HasActiveDevicesFilter]
    search_fields = ["=token"]
    fields = ["token", "is_blocked", "created_at"]
    readonly_fields = fields
    inlines = [DeviceInline]
    actions = ["block", "unblock"]
    ordering = ["-id"]
    show_full_result_count = False

    def get_queryset(self, request):
        return selectors.app_users_for_admin(super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("devices"), ordering="device_count")
    def device_count(self, obj):
        return obj.device_count

    @admin.display(description=_("active devices"), boolean=True, ordering="has_active_devices")
    def active_devices(self, obj):
        return obj.has_active_devices

    @admin.display(description=_("channels"), ordering="channel_count")
    def channel_count(self, obj):
        return obj.channel_count

    @admin.display(description=_("messages received"), ordering="message_count")
    def message_count(self, obj):
        return obj.message_count

    def _set_blocked(self, request, queryset, blocked):
        users = list(queryset)
        for user in users:
            app_user_set_blocked(user=user, blocked=blocked)
            self.log_change(request, user, "Blocked" if blocked else "Unblocked")
        if blocked:
            done = ngettext("Blocked %(count)s app user.", "Blocked %(count)s app users.", len(users))
        else:
            done = ngettext("Unblocked %(count)s app user.", "Unblocked %(count)s app users.", len(users))
        self.message_user(request, done % {"count": len(users)}, messages.SUCCESS)
        return self.redirect_after_action(request, users)

    @admin.action(description=_("Block"), permissions=["change"])
    def block(self, request, queryset):
        return self._set_blocked(request, queryset, True)

    @admin.action(description=_("Unblock"), permissions=["change"])
    def unblock(self, request, queryset):
        return self._set_blocked(request, queryset, False)


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(admin.ModelAdmin):
    """Read-only: a blacklist is the recipient's own choice."""

    list_display = ["user", "channel", "created_at"]
    list_select_related = ["user", "channel"]
    search_fields = ["=user__token", "=channel__token"]
    fields = ["user", "channel", "created_at"]
    readonly_fields = fields
    actions = None
    ordering = ["-id"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
