"""The web portal: public site, agent console, editor, department and supervisor pages, JSON API."""

from web.app import create_app

__all__ = ["create_app"]
