from django.urls import path

from junction.ingest.views import BatchIngestView

app_name = "ingest"

urlpatterns = [
    path("batches", BatchIngestView.as_view(), name="batches"),
]
