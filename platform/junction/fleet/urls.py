from django.urls import path

from junction.fleet.views import CheckinView, MetadataView, TargetView

app_name = "fleet"

urlpatterns = [
    path("<slug:region>/metadata/<str:name>", MetadataView.as_view(), name="metadata"),
    path("<slug:region>/targets/<path:name>", TargetView.as_view(), name="target"),
    path("<slug:region>/checkin", CheckinView.as_view(), name="checkin"),
]
