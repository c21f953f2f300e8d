"""Thin views: read the request, call a service, pick a template (or a fragment for htmx)."""
