"""Celery workers: thin tasks that load ids and call one service each."""
