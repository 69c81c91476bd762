"""The pages administrators keep the portal's nodes and rules on (destinations, routing rules,
printers): a list with an "add" form, and an edit form, each saving one ModelForm."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render


def list_with_add_form(
    request: HttpRequest,
    *,
    form_class: type[forms.ModelForm],
    add_permission: str,
    rows_name: str,
    rows: QuerySet,
    template: str,
    nav: str,
    added: Callable[[Model], str],
    list_url: str,
) -> HttpResponse:
    """The list, and for those who may add, the form that adds to it (POST)."""
    can_add = request.user.has_perm(add_permission)
    form = form_class(request.POST or None)
    if request.method == "POST":
        if not can_add:
            raise PermissionDenied
        if form.is_valid():
            messages.success(request, added(form.save()))
            return redirect(list_url)
    context = {"nav": nav, rows_name: rows, "form": form if can_add else None}
    return render(request, template, context)


def edit_form(
    request: HttpRequest,
    *,
    instance: Model,
    form_class: type[forms.ModelForm],
    template: str,
    nav: str,
    saved: str,
    list_url: str,
) -> HttpResponse:
    """One row's form; saved on a valid POST, then back to the list."""
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, saved)
        return redirect(list_url)
    return render(request, template, {"nav": nav, "form": form})
