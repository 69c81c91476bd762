"""URLs under /dicomweb/: QIDO-RS searches, WADO-RS retrieves, STOW-RS (PS3.18 10.4-10.6)."""

from django.urls import path, re_path

from imaging.dicomweb.views import qido, rendered, stow, wado

app_name = "dicomweb"

_STUDY = "studies/<str:study>"
_SERIES = _STUDY + "/series/<str:series>"
_INSTANCE = _SERIES + "/instances/<str:instance>"

urlpatterns = [
    # QIDO-RS (on POST, the studies resource is STOW-RS: views/stow.py)
    path("studies", stow.studies, name="studies"),
    path("series", qido.all_series, name="all-series"),
    path("instances", qido.all_instances, name="all-instances"),
    path(_STUDY + "/series", qido.study_series, name="study-series"),
    path(_STUDY + "/instances", qido.study_instances, name="study-instances"),
    path(_SERIES + "/instances", qido.series_instances, name="series-instances"),
    # WADO-RS
    path(_STUDY, stow.study, name="study"),  # WADO-RS on GET, STOW-RS on POST
    path(_STUDY + "/metadata", wado.study_metadata, name="study-metadata"),
    path(_SERIES, wado.series_retrieve, name="series"),
    path(_SERIES + "/metadata", wado.series_metadata, name="series-metadata"),
    path(_INSTANCE, wado.instance_retrieve, name="instance"),
    path(_INSTANCE + "/metadata", wado.instance_metadata, name="instance-metadata"),
    path(_INSTANCE + "/frames/<str:frames>", wado.frames, name="frames"),
    # Rendered images and thumbnails
    path(_STUDY + "/rendered", rendered.study_rendered, name="study-rendered"),
    path(_SERIES + "/rendered", rendered.series_rendered, name="series-rendered"),
    path(_INSTANCE + "/rendered", rendered.instance_rendered, name="instance-rendered"),
    path(
        _INSTANCE + "/frames/<int:frame>/rendered", rendered.frame_rendered, name="frame-rendered"
    ),
    path(_STUDY + "/thumbnail", rendered.study_thumbnail, name="study-thumbnail"),
    path(_SERIES + "/thumbnail", rendered.series_thumbnail, name="series-thumbnail"),
    path(_INSTANCE + "/thumbnail", rendered.instance_thumbnail, name="instance-thumbnail"),
    path(
        _INSTANCE + "/frames/<int:frame>/thumbnail",
        rendered.frame_thumbnail,
        name="frame-thumbnail",
    ),
    re_path(
        r"^studies/(?P<study>[^/]+)/series/(?P<series>[^/]+)/instances/(?P<instance>[^/]+)"
        r"/bulkdata/(?P<path>[0-9A-Fa-f/]+)$",
        wado.bulkdata,
        name="bulkdata",
    ),
]
