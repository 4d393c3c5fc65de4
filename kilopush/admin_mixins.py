"""Shared pieces of the model admins."""

from django.http import HttpResponseRedirect
from django.urls import reverse


class ObjectActionsMixin:
    """Offers the changelist's actions as buttons on an object's change page.

    The buttons POST to the changelist like its action form does, so they run the
    same action (same permission check, same service, same admin log entry).
    """

    change_form_template = "admin/kilopush_change_form.html"

    def _admin_url(self, name, *args):
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=args)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        actions = [
            (name, description)
            for name, (_, _, description) in self.get_actions(request).items()
            if name != "delete_selected"
        ]
        extra_context = {
            **(extra_context or {}),
            "object_actions": actions,
            "object_actions_url": self._admin_url("changelist"),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def redirect_after_action(self, request, objects):
        """From a change page's button, go back to that page; from the changelist, stay there."""
        if request.POST.get("_return_to_object") and len(objects) == 1:
            return HttpResponseRedirect(self._admin_url("change", objects[0].pk))
        return None
