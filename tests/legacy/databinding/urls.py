"""One page that loads websocketbridge.js the way 1.x templates did."""

from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="databinding/index.html")),
]
