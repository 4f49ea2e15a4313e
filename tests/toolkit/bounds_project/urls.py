"""No views: every route of this project is a consumer."""

urlpatterns: list = []
