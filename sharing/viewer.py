"""The study in the portal's own viewer, under a share: images through the share's DICOMweb door,
videos and PDFs through its media door (`sharing.media`), annotations through the share's
annotation door (`sharing.annotations`): the specialist's own measurements saved under the
share, the clinic's (when the share includes them) read-only.

The viewer page (frontend/templates/frontend/viewer.html and its bundle) is the staff one, fed
a configuration that points every request at the share's doors.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse

from imaging.viewer_config import build_viewer_config, viewer_bundle
from sharing.export import share_anonymizer
from sharing.media import share_media_url
from sharing.models import Share
from sharing.scope import share_series, share_viewer_series
from sharing.security import protected_headers, session_share
from sharing.summary import patient_summary


@dataclass
class _Shown:
    """What the viewer template reads of `study` and `patient`."""

    name: str = ""
    description: str = ""
    study_date: object = None
    species_label: str = ""
    breed: str = ""
    url: str = ""

    def get_absolute_url(self) -> str:
        return self.url


def share_viewer_config(request: HttpRequest, share: Share) -> dict:
    anonymizer = share_anonymizer(share)
    study = share.study
    uid = anonymizer.uid if anonymizer else (lambda value: value)
    web = reverse("sharing:dicomweb", args=[share.pk, ""]).rstrip("/")
    facts = dict(patient_summary(share))
    study_uid = uid(study.study_instance_uid)
    name = "Anonymized" if share.anonymize else facts.get("Patient", "")
    # The share's annotation door: its list takes new ones, "<id>/" appended addresses one.
    annotations = reverse("sharing:annotations", args=[share.pk])
    in_dicomweb = set(share_series(share).values_list("pk", flat=True))
    return build_viewer_config(
        study=study,
        uid=uid,
        study_url=reverse("sharing:study", args=[share.pk]),
        study_date="" if share.anonymize or not study.study_date else study.study_date.isoformat(),
        series=share_viewer_series(share).order_by("series_number", "received_at", "pk"),
        dicomweb_root=web,
        # No export into the study and no key images: those are the clinic's.
        api={"annotations": annotations, "annotation": annotations},
        # A PDF series is not in the DICOMweb door: its tile shows its modality instead.
        thumbnail_url=lambda row: (
            f"{web}/studies/{study_uid}/series/{uid(row.series_instance_uid)}/thumbnail"
            if row.pk in in_dicomweb
            else ""
        ),
        media_url=share_media_url(share),
        patient={
            "name": name,
            "species": facts.get("Species", ""),
            "breed": facts.get("Breed", ""),
        },
        user={"id": None, "name": share.email},
        csrf_token=get_token(request),
    )


def share_viewer(request: HttpRequest, pk: int) -> HttpResponse:
    share = session_share(request, pk)
    if share is None:
        response = render(request, "sharing/unavailable.html", {}, status=404)
        response._has_been_logged = True
        return protected_headers(response)
    config = share_viewer_config(request, share)
    facts = dict(patient_summary(share))
    shown_study = _Shown(
        description=share.study.description,
        study_date=None if share.anonymize else share.study.study_date,
        url=config["study"]["url"],
    )
    patient = _Shown(name=config["patient"]["name"], species_label=facts.get("Species", ""),
                     breed=facts.get("Breed", ""))  # fmt: skip
    context = {"study": shown_study, "patient": patient, "bundle": viewer_bundle(),
               "viewer_config": config, "debug": False}  # fmt: skip
    return protected_headers(render(request, "frontend/viewer.html", context), viewer=True)
