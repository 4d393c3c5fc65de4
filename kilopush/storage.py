"""Media in an S3-compatible store (STORAGE_S3_*): what every node of a deployment reads and writes alike."""

from botocore.config import Config
from django.conf import settings
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage


class MediaS3Storage(S3Storage):
    """django-storages' S3Storage with bounded waits, and the platform's own URLs unless the store is public.

    Without STORAGE_S3_PUBLIC_URL a file's URL is MEDIA_URL + its name, served from the store by the
    platform (channels_app's logo view): it never expires, as a signed URL would in pushes and inboxes.
    """

    def __init__(self, **options):
        style = options.pop("addressing_style", None)
        # A store that does not answer must not hold a web thread for boto3's default minute.
        options.setdefault("client_config", Config(
            s3={"addressing_style": style} if style else {}, connect_timeout=5, read_timeout=10,
            retries={"max_attempts": 3, "mode": "standard"},
        ))
        super().__init__(**options)

    def url(self, name, parameters=None, expire=None, http_method=None):
        if self.custom_domain:
            return super().url(name, parameters, expire, http_method)
        return settings.MEDIA_URL + filepath_to_uri(name)
