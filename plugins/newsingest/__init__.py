"""newsingest: scheduled news ingestion into a PostgreSQL warehouse."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
