"""The Celery app: Redis broker when REDIS_URL is set, in-process tasks otherwise.

Region-bound tasks are routed to `region.<code>`; start one worker per region:
`celery -A junction worker -Q region.eu-west`.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "junction.settings")

app = Celery("junction")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
