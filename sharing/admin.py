from django.contrib import admin

from sharing.models import Consultant, ConsultAttachment, ConsultReply, Share, ShareAccess


@admin.register(Consultant)
class ConsultantAdmin(admin.ModelAdmin):
    list_display = ["name", "practice", "specialty", "email", "destination", "active"]
    search_fields = ["name", "practice", "email"]


class ShareAccessInline(admin.TabularInline):
    model = ShareAccess
    extra = 0
    can_delete = False
    readonly_fields = ["at", "ip", "user_agent", "action", "detail"]


@admin.register(Share)
class ShareAdmin(admin.ModelAdmin):
    list_display = ["pk", "study", "email", "expires_at", "revoked_at", "anonymize"]
    list_filter = ["anonymize", "allow_download"]
    search_fields = ["email", "study__study_instance_uid"]
    # The token hash, salt and passcode hash are credentials: never shown or edited here.
    exclude = ["token_hash", "salt", "passcode_hash"]
    readonly_fields = ["study", "created_by", "created_at", "revoked_by", "failed_attempts"]
    inlines = [ShareAccessInline]

    def has_add_permission(self, request) -> bool:
        return False  # created from the study page, the API or `create_share`


class ConsultAttachmentInline(admin.TabularInline):
    model = ConsultAttachment
    extra = 0


@admin.register(ConsultReply)
class ConsultReplyAdmin(admin.ModelAdmin):
    list_display = ["study", "author", "created_at"]
    inlines = [ConsultAttachmentInline]
