"""The API reference, served offline: Swagger UI at /api/docs/ and Redoc at /api/redoc/.

Both load their bundles from this origin (drf-spectacular-sidecar) and no inline script. Their
renderers inject <style> elements at run time (React styles, styled-components), so these two
pages, and only these, allow inline styles; scripts stay limited to this origin.
"""

from __future__ import annotations

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

_inline_styles = method_decorator(csp_update({"style-src": ["'unsafe-inline'"]}), name="get")


@_inline_styles
class ApiDocsView(SpectacularSwaggerSplitView):
    pass


@_inline_styles
class ApiRedocView(SpectacularRedocView):
    pass
