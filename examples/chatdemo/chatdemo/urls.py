from chat import views
from django.contrib.auth import views as auth_views
from django.urls import path

urlpatterns = [
    path("", views.index, name="index"),
    path("chat/<slug:room>/", views.room, name="room"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
