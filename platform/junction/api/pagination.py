"""Page numbers for every list of the API, set on the views rather than in settings so the
API's contract is read where the API is defined."""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    # A page of 15-minute rollup windows for a week is 672; allow that in one answer.
    max_page_size = 1000
