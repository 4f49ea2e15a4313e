"""No views: the end-to-end tests speak channel messages."""

urlpatterns = []
