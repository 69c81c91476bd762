"""`manage.py create_share STUDY_INSTANCE_UID --email ADDRESS …`: share a study, print the link."""

from django.core.management.base import BaseCommand, CommandError

from imaging.models import Study
from sharing import shares
from sharing.mailing import share_link_email


class Command(BaseCommand):
    help = "Share a study with a specialist and print the link."

    def add_arguments(self, parser) -> None:
        parser.add_argument("study_instance_uid")
        parser.add_argument("--email", required=True)
        parser.add_argument("--expires-days", type=int, default=None)
        parser.add_argument("--passcode", default="")
        parser.add_argument("--series", nargs="+", default=[], metavar="UID")
        parser.add_argument("--anonymize", action="store_true")
        parser.add_argument("--no-download", action="store_true")
        parser.add_argument("--question", default="")
        parser.add_argument("--no-email", action="store_true", help="Only print the link.")

    def handle(self, *args, **options) -> None:
        study = Study.objects.filter(study_instance_uid=options["study_instance_uid"]).first()
        if study is None:
            raise CommandError(f"No study {options['study_instance_uid']}.")
        try:
            created = shares.share_create(
                study=study,
                email=options["email"],
                expires_days=options["expires_days"],
                passcode=options["passcode"],
                series_uids=options["series"],
                anonymize=options["anonymize"],
                allow_download=not options["no_download"],
                question=options["question"],
            )
        except shares.ShareError as exc:
            raise CommandError(str(exc)) from exc
        url = created.url()
        if not options["no_email"]:
            share_link_email(share=created.share, url=url)
        self.stdout.write(url)
        self.stderr.write(
            f"share {created.share.pk} until {created.share.expires_at:%Y-%m-%d %H:%M} UTC"
        )
