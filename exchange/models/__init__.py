"""SQLAlchemy 2 models. The schema changes only through Alembic migrations
(``exchange/models/migrations``); a test checks that the migrated schema
equals these models on SQLite and PostgreSQL."""

# Also imported so that these tables join Base.metadata, which migrations are checked against.
from exchange.models.accounts_security import Invitation, RecoveryCode, TotpCredential, UserSession
from exchange.models.review import InformationRequest, ManualBoxRow, PageImage, ReviewDecision
from exchange.models.tables import (
    ApiToken,
    AuditEvent,
    Base,
    Bundle,
    Case,
    CaseFile,
    FindingRow,
    Organisation,
    OutboxMessage,
    PendingBlob,
    PolicyVersion,
    RedactedFile,
    User,
    new_id,
)
from exchange.models.uploads import UploadSession

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Base",
    "Bundle",
    "Case",
    "CaseFile",
    "FindingRow",
    "InformationRequest",
    "Invitation",
    "ManualBoxRow",
    "Organisation",
    "OutboxMessage",
    "PageImage",
    "PendingBlob",
    "PolicyVersion",
    "RecoveryCode",
    "RedactedFile",
    "ReviewDecision",
    "TotpCredential",
    "UploadSession",
    "User",
    "UserSession",
    "new_id",
]
