"""The declarative base shared by every domain's models, with explicit constraint names.

SQLite migrations (batch mode) can only alter constraints that have names, so every
index, key and check gets one from this convention.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def load_all_models() -> None:
    """Import every domain's models so that Base.metadata knows every table."""
    from unillm.access import models as _access  # noqa: F401
    from unillm.audit import models as _audit  # noqa: F401
    from unillm.auth import models as _auth  # noqa: F401
    from unillm.db import config_version as _config_version  # noqa: F401
    from unillm.deployment import models as _deployment  # noqa: F401
    from unillm.provider import models as _provider  # noqa: F401
    from unillm.server import models as _server  # noqa: F401
    from unillm.usage import models as _usage  # noqa: F401
