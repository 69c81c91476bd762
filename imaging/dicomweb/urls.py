"""URLs under /dicomweb/."""

urlpatterns: list = []
