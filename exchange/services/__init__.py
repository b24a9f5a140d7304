"""Use cases. Each public function takes a :class:`ServiceContext` first.

Services own transactions' meaning (what must change together), access
control decisions, and the access log. Adapters (web, API, CLI, tasks) call
exactly one service function per request or job.
"""
