"""`manage.py revoke_share ID`: close a share link at once."""

from django.core.management.base import BaseCommand, CommandError

from sharing import shares
from sharing.models import Share


class Command(BaseCommand):
    help = "Revoke a share link."

    def add_arguments(self, parser) -> None:
        parser.add_argument("share_id", type=int)

    def handle(self, *args, **options) -> None:
        share = Share.objects.filter(pk=options["share_id"]).first()
        if share is None:
            raise CommandError(f"No share {options['share_id']}.")
        shares.share_revoke(share=share)
        self.stdout.write(f"share {share.pk} revoked")
