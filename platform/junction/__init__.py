"""Junction's Django project. The Celery app is loaded with Django so tasks can be sent."""

from junction.celery import app as celery_app

__all__ = ["celery_app"]
