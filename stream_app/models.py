from django.db import models


class InboxEvent(models.Model):
    """A read or a delete in someone's inbox, kept a while so every stream process finds it by id.

    Written in the same transaction as the change itself; pub/sub only says "look now".
    """

    READ = "read"  # data: {"ids": [...]} or {"up_to": N}
    DELETED = "deleted"  # data: {"id": N}
    KINDS = [(READ, "read"), (DELETED, "deleted")]

    user = models.ForeignKey("users_app.AppUser", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=KINDS)
    data = models.TextField()  # the event's JSON, sent as it is
    created_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.kind} for {self.user_id}: {self.data}"
