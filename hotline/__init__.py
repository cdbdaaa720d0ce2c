"""hotline core: settings, database, migrations, users, audit and the `hotline` command."""

from hotline.config import Settings, get_settings

__all__ = ["Settings", "get_settings"]
