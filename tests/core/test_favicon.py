"""/favicon.ico, which browsers ask for on every page (bulkyard/core/views.py)."""

from django.contrib.staticfiles import finders


def test_favicon_ico_leads_to_the_sites_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"].endswith("bulkyard/favicon.svg")
    assert finders.find("bulkyard/favicon.svg")  # the file it leads to exists


def test_the_pages_name_the_icon(client, user):
    client.force_login(user)

    page = client.get("/jobs/").content.decode()

    assert 'rel="icon"' in page
