"""Page numbers for every list of the API, set on the views rather than in settings so the
API's contract is read where the API is defined."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    # A page of 15-minute rollup windows for a week is 672; allow that in one answer.
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        # DRF answers a page it cannot give with 404, as if the list were missing; it is a
        # query parameter it cannot use, answered 400 naming it like every other.
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({self.page_query_param: [str(exc.detail)]}) from None
