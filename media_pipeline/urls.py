from django.urls import path

from media_pipeline import api, pages, posters, tus

app_name = "media_pipeline"

urlpatterns = [
    path("", pages.upload_page, name="upload"),
    path("media/", pages.library, name="library"),
    path("media/<uuid:asset_id>/", pages.player, name="player"),
    path("media/<uuid:asset_id>/delete/", pages.delete_page, name="delete"),
    path("media/<uuid:asset_id>/poster.jpg", posters.poster, name="poster"),
    path("api/media/", api.media_collection, name="api-collection"),
    path("api/media/<uuid:asset_id>/", api.media_item, name="api-item"),
    path("api/uploads/", tus.collection, name="tus-collection"),
    path("api/uploads/<uuid:asset_id>/", tus.item, name="tus-upload"),
]
