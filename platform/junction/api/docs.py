"""The API reference, served offline: Swagger UI at /api/docs/ and Redoc at /api/redoc/.

Both load their bundles from this origin (drf-spectacular-sidecar) and no inline script. Their
renderers inject <style> elements at run time (React styles, styled-components), so these two
pages, and only these, allow inline styles; scripts stay limited to this origin. Redoc's menu
shows its maker's logo from their CDN: the policy stops the browser from fetching it.
"""

from __future__ import annotations

from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

_inline_styles = method_decorator(csp_update({"style-src": ["'unsafe-inline'"]}), name="get")


@_inline_styles
class ApiDocsView(SpectacularSwaggerSplitView):
    pass


# Redoc also runs its search in a worker it builds from its own bundle (a blob: URL). One
# update for both: a second csp_update on the same view would replace the first.
@method_decorator(
    csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["'self'", "blob:"]}), name="get"
)
class ApiRedocView(SpectacularRedocView):
    pass
