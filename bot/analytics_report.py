"""The analytics report as files people read: markdown, PNG charts and CSV tables (for the report
command), and the same charts as PNG bytes for the console's dashboard. One place draws them."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

from bot.analytics import Report

CHARTS = ("rates_over_time", "reasons_by_product", "by_language")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def chart_png(report: Report, name: str) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    if name == "rates_over_time":
        days = [d["day"] for d in report.daily]
        for key, label in (("automation_rate", "automated"), ("handoff_rate", "handed off"),
                           ("fallback_rate", "fallback")):
            ax.plot(days, [d[key] * 100 if d[key] is not None else float("nan") for d in report.daily], marker="o",
                    label=label)  # a day without conversations is a gap, not a zero
        ax.set_xlim(report.start, report.end)
        ax.set_ylim(0, 100)
        ax.set_ylabel("%")
        ax.set_title("Rates per day")
        ax.legend()
        fig.autofmt_xdate()
    elif name == "reasons_by_product":
        per_product: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in report.reasons_by_product:
            per_product[row["product"]][row["reason"]] += row["count"]
        products = sorted(per_product, key=lambda p: -sum(per_product[p].values()))[:10]
        reasons = sorted({r for p in products for r in per_product[p]})
        bottom = [0] * len(products)
        for reason in reasons:
            values = [per_product[p].get(reason, 0) for p in products]
            ax.barh(products, values, left=bottom, label=reason)
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_title("Return and cancellation reasons per product")
        ax.invert_yaxis()
        if reasons:
            ax.legend(fontsize="small")
    elif name == "by_language":
        languages = list(report.by_language)
        width = 0.4
        xs = range(len(languages))
        for offset, key, label in ((-width / 2, "automation_rate", "automated"), (width / 2, "handoff_rate", "handed off")):
            ax.bar([x + offset for x in xs], [(report.by_language[lang][key] or 0) * 100 for lang in languages],
                   width, label=label)
        ax.set_xticks(list(xs), languages)
        ax.set_ylabel("%")
        ax.set_title("Per language")
        ax.legend()
    else:
        plt.close(fig)
        raise ValueError(f"no chart {name!r}: one of {', '.join(CHARTS)}")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def tables(report: Report) -> dict[str, tuple[list[str], list[list[Any]]]]:
    rate_columns = ["conversations", "with_request", "automated", "handed_off", "automation_rate", "handoff_rate",
                    "messages", "fallback_rate"]
    return {
        "by_language": (["language", *rate_columns],
                        [[k, *(v[c] for c in rate_columns)] for k, v in report.by_language.items()]),
        "by_country": (["country", *rate_columns],
                       [[k, *(v[c] for c in rate_columns)] for k, v in report.by_country.items()]),
        "daily": (["day", *rate_columns], [[d["day"], *(d[c] for c in rate_columns)] for d in report.daily]),
        "reasons_by_product": (["sku", "product", "case_type", "reason", "count"],
                               [[r[k] for k in ("sku", "product", "case_type", "reason", "count")]
                                for r in report.reasons_by_product]),
        "policy_outcomes": (["rule_id", "outcome", "count"],
                            [[o["rule_id"], o["outcome"], o["count"]] for o in report.outcomes]),
        "cases_by_type": (["type", "count"], [[k, v] for k, v in report.cases_by_type.items()]),
        "handoff_reasons": (["reason", "count"], [[k, v] for k, v in report.handoff_reasons.items()]),
        "overrides": (["overridden_rule", "count"], [[k, v] for k, v in report.overrides.items()]),
    }


def markdown(report: Report) -> str:
    t, r, a, s = report.totals, report.refunds, report.agent_reply, report.ratings
    lines = [f"# After-sales report, {report.start} to {report.end}", "",
             f"- Conversations: {t['conversations']} ({t['with_request']} with a request), cases opened: {t['cases']}",
             f"- Automation rate (resolved without a person): {_pct(t['automation_rate'])}",
             f"- Handoff rate: {_pct(t['handoff_rate'])}; fallback rate: {_pct(t['fallback_rate'])} of "
             f"{t['messages']} messages",
             f"- Refund deadlines: {_pct(r['compliance'])} met ({r['issued_on_time']} on time, {r['issued_late']} late, "
             f"{r['overdue']} overdue, {r['pending_on_time']} pending within their deadline)",
             f"- First agent reply: median {a['median_minutes'] if a['median_minutes'] is not None else '–'} min, "
             f"{_pct(a['within_sla'])} within SLA ({a['answered']} answered, {a['unanswered']} waiting)",
             f"- Satisfaction: {s['average'] if s['average'] is not None else '–'} / 5 from {s['count']} ratings", ""]
    for name in CHARTS:
        lines += [f"![{name}]({name}.png)", ""]
    for name, (header, rows) in tables(report).items():
        lines += [f"## {name.replace('_', ' ').capitalize()}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows] or ["| (none) |"]
        lines.append("")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return _pct(value) if value <= 1 else f"{value:g}"
    return "–" if value is None else str(value).replace("|", "\\|")


def write(report: Report, out: Path) -> list[Path]:
    """report.md, one PNG per chart and one CSV per table, in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.md"]
    written[0].write_text(markdown(report), encoding="utf-8")
    for name in CHARTS:
        (out / f"{name}.png").write_bytes(chart_png(report, name))
        written.append(out / f"{name}.png")
    for name, (header, rows) in tables(report).items():
        with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        written.append(out / f"{name}.csv")
    return written
