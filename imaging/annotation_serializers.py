"""Input and output shapes of the annotation API (the staff one, and a share link's).

The output reads two optional context keys besides `request`: `share_key`, when a share link
is the reader (it may edit exactly the marks drawn under its key), and `clinic_author`, a name
shown instead of the clinic's users' names (an anonymized share names no one at the clinic).
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from imaging.models import Annotation, AnnotationTool


class AnnotationValueSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    value = serializers.JSONField(help_text="A number, or words (e.g. a reference range)")
    unit = serializers.CharField(allow_blank=True)


class AnnotationAuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        allow_null=True, help_text="The clinic user; null for marks drawn through a share link"
    )
    name = serializers.CharField(help_text='e.g. "Dr Jones (specialist, via share)"')


class AnnotationOutputSerializer(serializers.ModelSerializer):
    sop_instance_uid = serializers.CharField(source="instance.sop_instance_uid")
    series_instance_uid = serializers.CharField(source="instance.series.series_instance_uid")
    values = AnnotationValueSerializer(many=True)
    author = serializers.SerializerMethodField()
    via_share = serializers.BooleanField(
        read_only=True, help_text="Drawn by an outside specialist through a share link"
    )
    can_edit = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = [
            "id", "sop_instance_uid", "series_instance_uid", "frame", "tool", "geometry", "text",
            "values", "calibration_source", "calibration_note", "author", "via_share",
            "can_edit", "created_at", "updated_at",
        ]  # fmt: skip

    @extend_schema_field(AnnotationAuthorSerializer(allow_null=True))
    def get_author(self, annotation: Annotation) -> dict | None:
        if annotation.share_key:
            return {"id": None, "name": annotation.author_label or "Specialist (via share)"}
        clinic_author = self.context.get("clinic_author")
        if clinic_author:
            return {"id": None, "name": clinic_author}
        if annotation.author is None:
            return None
        return {"id": annotation.author_id, "name": annotation.author_name()}

    def get_can_edit(self, annotation: Annotation) -> bool:
        share_key = self.context.get("share_key")
        if share_key:
            return annotation.share_key == share_key
        if annotation.share_key:
            return False
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return bool(
            user
            and user.is_authenticated
            and annotation.author_id == user.pk
            and user.has_perm("imaging.change_annotation")
        )


class AnnotationCreateInputSerializer(serializers.Serializer):
    sop_instance_uid = serializers.CharField(max_length=64)
    frame = serializers.IntegerField(min_value=1, default=1)
    tool = serializers.ChoiceField(choices=AnnotationTool.choices)
    geometry = serializers.JSONField()
    text = serializers.CharField(
        max_length=500, allow_blank=True, default="", trim_whitespace=False
    )


class AnnotationUpdateInputSerializer(serializers.Serializer):
    geometry = serializers.JSONField(required=False)
    text = serializers.CharField(
        max_length=500, allow_blank=True, required=False, trim_whitespace=False
    )


class AnnotationExportOutputSerializer(serializers.Serializer):
    sop_instance_uid = serializers.CharField(help_text="The first (usually only) state stored")
    sop_instance_uids = serializers.ListField(
        child=serializers.CharField(), help_text="One state per kind of image annotated"
    )
    series_instance_uid = serializers.CharField()
    annotations = serializers.IntegerField(help_text="How many annotations the export holds")
    report_sop_instance_uid = serializers.CharField(
        allow_null=True, help_text="The Comprehensive SR of the measured values, if any"
    )
    report_series_instance_uid = serializers.CharField()
