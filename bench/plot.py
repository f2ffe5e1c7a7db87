"""The size sweep's table and plot, from the summary.json bench/run wrote for each size.

``python bench/plot.py SWEEP_OUT PNG RESULTS_MD SIZE...`` (bench/sweep runs it): writes the plot of throughput
against users, one line per endpoint, and puts the table between the sweep's markers in RESULTS_MD (under
"## Before and after", which bench/run keeps).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from report import LABELS  # noqa: E402

BEGIN, END = "<!-- sweep -->", "<!-- /sweep -->"
CEILINGS = ("ceiling", "one_read", "one_write", "one_write_in_transaction")
KEEP = 0.9  # the target: at the largest size every endpoint keeps 90% of its throughput at the smallest


def main(out: Path, png: Path, results_md: Path, sizes: list[int]) -> None:
    runs = {size: json.loads((out / str(size) / "summary.json").read_text()) for size in sizes}
    names = [name for name in LABELS if all(name in run["results"] for run in runs.values())]
    plot(runs, names, png)
    block = "\n".join([BEGIN, table(runs, names, png.name), END])
    text = results_md.read_text()
    if BEGIN in text:
        text = re.sub(f"{re.escape(BEGIN)}.*?{re.escape(END)}", lambda _: block, text, flags=re.S)
    else:
        text = text.replace("## Before and after\n", f"## Before and after\n\n{block}\n", 1)
    results_md.write_text(text)
    print(block)


def kept(runs: dict[int, dict], name: str) -> tuple[float, float]:
    """The largest size's throughput over the smallest's: as measured, and as fractions of the bare ceiling
    beside each (the machine's speed drifts between runs an hour apart; the fraction does not carry it)."""
    first, last = runs[min(runs)]["results"][name], runs[max(runs)]["results"][name]
    return last["rps"] / first["rps"], last["of_ceiling"] / first["of_ceiling"]


def table(runs: dict[int, dict], names: list[str], png: str) -> str:
    sizes = sorted(runs)
    head = " | ".join(f"{s:,} users: req/s · p99 ms · of bare" for s in sizes)
    rows = [
        "### The size sweep (bench/sweep)",
        "",
        f"bench/run at {', '.join(f'{s:,}' for s in sizes)} seeded users (plus the 120,000 fresh users and live "
        "codes the one-shot scenarios use), the campaign's inviter holding a tenth of them as referrals, a "
        "chain of invites 1,000 deep; the same machine, one run each, back to back. The last column is the "
        "largest size's throughput over the smallest's as a fraction of the bare ceiling beside each (as "
        "measured in brackets): the target is 90%.",
        "",
        f"| endpoint | {head} | kept |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |",
    ]
    for name in names:
        cells = []
        for s in sizes:
            r = runs[s]["results"][name]
            honest = f" ({r['of_honest']:.0%} of one)" if "of_honest" in r else ""
            cells.append(f"{r['rps']:,.0f} · {r['p99_ms']:.0f} · {r['of_ceiling']:.0%}{honest}")
        measured, fraction = kept(runs, name)
        mark = "" if name in CEILINGS else (" ✅" if fraction >= KEEP else " ❌")
        label = LABELS[name]
        if name == "referrals_depth_50000":
            label = "GET /profile/referrals, deep (" + " / ".join(f"{runs[s]['meta']['deep']:,}" for s in sizes) + ")"
        rows.append(f"| {label} | {' | '.join(cells)} | {fraction:.0%} ({measured:.0%}){mark} |")
    rows += [
        "",
        "| the run | " + " | ".join(f"{s:,}" for s in sizes) + " |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " |",
        "| seeding (COPY), s | " + " | ".join(f"{runs[s]['meta']['seed_seconds']:,}" for s in sizes) + " |",
        "| VACUUM ANALYZE + CHECKPOINT, s | "
        + " | ".join(f"{runs[s]['meta'].get('vacuum_seconds', '?')}" for s in sizes)
        + " |",
        "| database on disk, MiB | "
        + " | ".join(f"{runs[s]['meta']['database_bytes'] / 2**20:,.0f}" for s in sizes)
        + " |",
        "| users table with its indexes, MiB | "
        + " | ".join(f"{runs[s]['meta']['table_bytes'].get('users', 0) / 2**20:,.0f}" for s in sizes)
        + " |",
        "| the influencer's referrals | "
        + " | ".join(f"{runs[s]['meta']['influencer_referrals']:,}" for s in sizes)
        + " |",
        "| resident memory per app worker, MiB | "
        + " | ".join(", ".join(f"{kb / 1024:.0f}" for kb in runs[s]["rss_kb"]) for s in sizes)
        + " |",
        "| errors | " + " | ".join(f"{sum(r['errors'] for r in runs[s]['results'].values())}" for s in sizes) + " |",
        "",
        f"![throughput against users, one line per endpoint]({png})",
    ]
    return "\n".join(rows)


def plot(runs: dict[int, dict], names: list[str], png: Path) -> None:
    sizes = sorted(runs)
    users = sizes
    figure, (absolute, relative) = plt.subplots(1, 2, figsize=(14, 6.5), dpi=110)
    colours = plt.get_cmap("tab20").colors
    markers = "osD^vP*Xh<>p"
    for n, name in enumerate(names):
        style: dict[str, object] = {"color": colours[n % len(colours)]}
        if name in CEILINGS:
            style |= {"linestyle": "--", "linewidth": 1}
        else:
            style |= {"marker": markers[n % len(markers)]}
        absolute.plot(users, [runs[s]["results"][name]["rps"] for s in sizes], label=LABELS[name], **style)
        relative.plot(users, [100 * runs[s]["results"][name]["of_ceiling"] for s in sizes], **style)
    absolute.set(xscale="log", yscale="log", xlabel="users", ylabel="requests/s", title="Throughput")
    relative.set(xscale="log", xlabel="users", ylabel="% of the bare ceiling beside it", title="Of the bare ceiling")
    for axes in (absolute, relative):
        axes.set_xticks(users, [f"{size:,}" for size in users], minor=False)
        axes.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        axes.grid(True, which="both", alpha=0.3)
    figure.legend(loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.17, 1, 1))
    figure.savefig(png)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), [int(s) for s in sys.argv[4:]])
