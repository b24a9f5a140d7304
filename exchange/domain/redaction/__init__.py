"""Redaction engines: each takes a document and ``Redaction`` spans for one recipient."""
