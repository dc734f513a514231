"""The staff dashboard, /admin/dashboard/: pending chunks per queue, the
workers that answer, the last hour's throughput as a chart and its failures
by code. The chart is SVG drawn here: no script, no library, nothing from
another origin (the Content-Security-Policy allows none)."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from bulkyard.jobs import dashboard

CHART_WIDTH = 720
CHART_HEIGHT = 180
# Room for the axis labels, left and below.
_LEFT = 48
_BOTTOM = 20


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Routed through ``admin.site.admin_view`` (config/urls.py): staff only."""
    minutes = dashboard.throughput_by_minute()
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "queues": dashboard.queue_loads(),
        "workers": dashboard.workers_seen(),
        "chart": throughput_chart(minutes),
        "hour_items": sum(m.items for m in minutes),
        "hour_chunks": sum(m.chunks for m in minutes),
        "failures": dashboard.failures_by_code(),
    }
    response = TemplateResponse(request, "admin/bulkyard_dashboard.html", context)
    response["Cache-Control"] = "no-store"
    return response


def throughput_chart(minutes: list[dashboard.Minute]) -> SafeString:
    """Items finished per minute as bars, each with its figures as a tooltip."""
    most = max((m.items for m in minutes), default=0)
    top = most or 1  # an empty hour draws flat bars, not a division by zero
    plot_width = CHART_WIDTH - _LEFT
    plot_height = CHART_HEIGHT - _BOTTOM
    step = plot_width / max(len(minutes), 1)
    bars = format_html_join(
        "",
        '<rect class="by-chart-bar" x="{}" y="{}" width="{}" height="{}">'
        "<title>{}: {} items, {} chunks</title></rect>",
        (
            (
                # format_html escapes its arguments to text first: numbers as text.
                f"{_LEFT + n * step + 1:.1f}",
                f"{plot_height - plot_height * m.items / top:.1f}",
                f"{max(step - 2, 1):.1f}",
                f"{plot_height * m.items / top:.1f}",
                m.at.strftime("%H:%M"),
                f"{m.items:,}",
                f"{m.chunks:,}",
            )
            for n, m in enumerate(minutes)
        ),
    )
    first = minutes[0].at.strftime("%H:%M") if minutes else ""
    last = minutes[-1].at.strftime("%H:%M") if minutes else ""
    return format_html(
        '<svg class="by-chart" id="throughput-chart" viewBox="0 0 {w} {h}" role="img" '
        'aria-label="Items finished per minute, last hour; at most {top} a minute">'
        '<line class="by-chart-axis" x1="{left}" y1="{base}" x2="{w}" y2="{base}"/>'
        '<line class="by-chart-axis" x1="{left}" y1="0" x2="{left}" y2="{base}"/>'
        '<text x="{label_x}" y="12" text-anchor="end">{top}</text>'
        '<text x="{label_x}" y="{base}" text-anchor="end">0</text>'
        '<text x="{left}" y="{h}">{first}</text>'
        '<text x="{w}" y="{h}" text-anchor="end">{last}</text>'
        "{bars}</svg>",
        w=CHART_WIDTH,
        h=CHART_HEIGHT,
        left=_LEFT,
        base=plot_height,
        label_x=_LEFT - 4,
        top=f"{most:,}",
        first=first,
        last=last,
        bars=bars,
    )
