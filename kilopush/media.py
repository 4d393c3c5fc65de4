"""Absolute URLs of stored media (channel logos, attachments): what pushes and inbox items carry."""

from django.conf import settings


def absolute_url(url, request=None):
    """`url` of a stored file made absolute: as the storage gave it, else SITE_URL, else the request's host."""
    if "://" in url:  # storage already serves absolute URLs (object storage, CDN)
        return url
    if settings.SITE_URL:
        return settings.SITE_URL + url
    if request is not None:
        return request.build_absolute_uri(url)
    return url
