"""Prepare a portal to run: migrate, collect static files, and make sure an administrator exists."""

import os
import secrets

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand

from clinic.roles import ADMINISTRATOR


class Command(BaseCommand):
    help = "Migrate, collect static files and create the first administrator if there is none."

    def handle(self, *args, **options) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write("Database is up to date.")
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("PORTAL_ADMIN_USER") or "admin"
        password = os.environ.get("PORTAL_ADMIN_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        admin = User.objects.create_superuser(username=username, email="", password=password)
        admin.groups.add(Group.objects.get(name=ADMINISTRATOR))
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created administrator '{username}' with password: {password}\n"
                    "This is shown once; change it after signing in (or set PORTAL_ADMIN_PASSWORD)."
                )
            )
        else:
            self.stdout.write(
                f"Created administrator '{username}' with the password from PORTAL_ADMIN_PASSWORD."
            )
