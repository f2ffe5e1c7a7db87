"""Turn the wrk results of bench/run into one table, check the targets, and write RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

LABELS = {
    "ceiling": "bare Flask (the ceiling)",
    "one_read": "one read (ceiling: a users row by primary key)",
    "one_write": "one write (ceiling: one INSERT, autocommit)",
    "one_write_in_transaction": "one write in a transaction (BEGIN, the INSERT, COMMIT)",
    "one_page": "one page (a page's shape: 50 referrals by the inviter's index, as JSON)",
    "profile_typical": "GET /profile (typical user)",
    "profile_influencer": "GET /profile (influencer)",
    "referrals_page_1": "GET /profile/referrals, page 1",
    "referrals_depth_50000": "GET /profile/referrals, 50,000 deep",
    "profile_invite": "POST /profile/invite (one inviter)",
    "profile_invite_many": "POST /profile/invite (many inviters)",
    "auth_code": "POST /auth/code",
    "auth_code_light": "POST /auth/code, light load (2 connections)",
    "auth_token": "POST /auth/token (sign-up)",
    "auth_token_invite": "POST /auth/token (sign-up with the influencer's code)",
    "console_overview_90": "GET /admin/?days=90 (the console's overview)",
    "console_search": "GET /admin/users?q=1234 (a user search)",
    "console_user": "GET /admin/users/ID (a user's file, recorded)",
}


def main(out: Path, duration: str, connections: str, threads: str) -> None:
    slices: dict[str, list[dict]] = {}
    for line in (out / "results.txt").read_text().splitlines():
        name, _, body = line.partition(" ")
        slices.setdefault(name, []).append(json.loads(body))
    # The ceiling is measured on its own first and again just before each slice of every endpoint: its row is
    # the median of all those slices, and an endpoint's fraction is the median of its slices' fractions of the
    # ceiling slice beside them. This machine's speed drifts by a fifth within a minute; a fraction of figures
    # taken minutes apart measured the drift as much as the endpoint.
    beside = {
        kind: {
            name.removeprefix(f"{kind}_with_"): runs
            for name, runs in slices.items()
            if name.startswith(f"{kind}_with_")
        }
        for kind in ("ceiling", "read", "write")
    }
    paired = beside["ceiling"]
    all_ceiling = [
        run for name, runs in slices.items() if name == "ceiling" or name.startswith("ceiling_with_") for run in runs
    ]
    slices = {name: runs for name, runs in slices.items() if "_with_" not in name}
    if all_ceiling:
        slices["ceiling"] = all_ceiling
    results = {name: combine(runs) for name, runs in slices.items()}
    for name, runs in slices.items():
        results[name]["of_ceiling"] = of_ceiling(runs, paired.get(name), results[name], results.get("ceiling"))
        # Read endpoints over the one-read ceiling, write endpoints over the one-write one, slice by slice.
        for kind, ceiling_name in (("read", "one_read"), ("write", "one_write")):
            if name in beside[kind]:
                own = results.get(ceiling_name)
                results[name]["of_honest"] = of_ceiling(runs, beside[kind][name], results[name], own)
                results[name]["honest"] = kind
    meta = json.loads((out / "meta.json").read_text())
    rows = [
        "| endpoint | requests/s | p50 ms | p99 ms | errors | of bare | of one read/write | requests/s of slices |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    labels = LABELS | {"referrals_depth_50000": f"GET /profile/referrals, {meta['deep']:,} deep"}
    for name, label in labels.items():
        r = results.get(name)
        if r is None:
            continue
        honest = f"{r['of_honest']:.0%} of one {r['honest']}" if "of_honest" in r else "-"
        rows.append(
            f"| {label} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | "
            f"{r['of_ceiling']:.0%} | {honest} | {slice_figures(r['slices'])} |"
        )
    rss = [int(line.split()[1]) for line in (out / "rss.txt").read_text().splitlines() if line.strip()]
    checks = targets(results, meta)
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            f"`bench/run` on {machine()}.",
            f"{meta['users']:,} users (seeded in {meta['seed_seconds']} s by COPY); the influencer has "
            f"{meta['influencer_referrals']:,} referrals, the typical user {meta['typical_referrals']}. "
            f"wrk: {threads} threads, {connections} connections, {duration} s per endpoint after a warm-up, in "
            "slices reported by the median one, from a second process on the same machine. The app and the "
            f"ceilings run under the same gunicorn config (`gunicorn.conf.py`: {gunicorn_settings()}). Three "
            "ceilings: bare Flask answering a constant; one read (a `users` row by primary key on a per-thread "
            "psycopg connection); one write (one INSERT, autocommit). Two more rows are not targets: one page (a "
            "referral page's shape with none of the app) and one write in a transaction (the INSERT between a BEGIN and"
            " a COMMIT, as a write through the ORM session is sent). Each slice of an endpoint follows a slice of the "
            "bare ceiling and, for a read endpoint, one of the one-read ceiling, for a write endpoint one of the "
            "one-write ceiling; each fraction is the median of the slices' fractions of the ceiling slice beside them "
            "(the machine's speed drifts within a minute), and the bare ceiling's own row is the median of all its "
            "slices.",
            "",
            *rows,
            "",
            f"Resident memory per app worker after the run: {', '.join(f'{kb / 1024:.0f} MiB' for kb in rss)}.",
            "",
            "Targets:",
            *[f"- {'✅' if ok else '❌'} {what}" for what, ok in checks],
            "",
        ]
    )
    (out / "RESULTS.md").write_text(text)
    # The figures bench/sweep puts side by side, one run per size.
    figures = ("rps", "p50_ms", "p99_ms", "errors", "of_ceiling", "of_honest")
    summary = {
        "meta": meta,
        "rss_kb": rss,
        "results": {name: {key: r[key] for key in figures if key in r} for name, r in results.items()},
        "targets": [{"what": what, "met": ok} for what, ok in checks],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(text)


def slice_figures(figures: list[int]) -> str:
    if len(figures) <= 6:
        return ", ".join(f"{rps:,}" for rps in figures)
    return f"{len(figures)} slices, {min(figures):,} to {max(figures):,}"


def of_ceiling(runs: list[dict], ceiling_beside: list[dict] | None, result: dict, ceiling: dict | None) -> float:
    """The median of each slice's throughput over the ceiling slice run just before it; without those, the
    endpoint's row over the ceiling's row."""
    if ceiling_beside and len(ceiling_beside) == len(runs):
        ratios = sorted(run["rps"] / beside["rps"] for run, beside in zip(runs, ceiling_beside, strict=True))
        return ratios[len(ratios) // 2]
    return result["rps"] / ceiling["rps"] if ceiling else float("nan")


def combine(runs: list[dict]) -> dict:
    """The median slice by throughput; errors and requests of all slices."""
    median = sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]
    return median | {
        "errors": sum(run["errors"] for run in runs),
        "requests": sum(run["requests"] for run in runs),
        "slices": [round(run["rps"]) for run in runs],
        "per_slice": [run["requests"] for run in runs],
    }


def targets(results: dict, meta: dict) -> list[tuple[str, bool]]:
    """Each target whose scenarios ran (BENCH_ONLY may leave some out), with whether it is met."""
    checks = []
    ceiling, typical = results.get("ceiling"), results.get("profile_typical")
    if typical and "of_honest" in typical:
        ratio = typical["of_honest"]
        checks.append((f"GET /profile at ≥ 70% of the one-read ceiling: {ratio:.0%}", ratio >= 0.7))
    for name, label in (
        ("auth_token_invite", "POST /auth/token (sign-up with an invite code, the campaign path)"),
        ("auth_token", "POST /auth/token (sign-up)"),
        ("auth_code", "POST /auth/code"),
        ("profile_invite", "POST /profile/invite (one inviter)"),
        ("profile_invite_many", "POST /profile/invite (many inviters)"),
    ):
        if (r := results.get(name)) and "of_honest" in r:
            what = f"{label} at ≥ 30% of the one-write ceiling: {r['of_honest']:.0%}"
            checks.append((what, r["of_honest"] >= 0.3))
    if ceiling and typical:
        ratio = typical["of_ceiling"]
        checks.append(
            (f"GET /profile at ≥ 50% of the bare ceiling (an earlier round's target): {ratio:.0%}", ratio >= 0.5)
        )
    # Two endpoints are compared by their fractions of the ceiling beside them, not by requests/s measured a
    # minute apart: the machine's drift in between is as large as the difference being checked.
    if typical and (influencer := results.get("profile_influencer")):
        ratio = influencer["of_ceiling"] / typical["of_ceiling"]
        checks.append((f"the influencer's profile within 20% of a typical user's: {ratio:.0%}", ratio >= 0.8))
    if (first := results.get("referrals_page_1")) and "of_honest" in first:
        ratio = first["of_honest"]
        what = f"GET /profile/referrals (page 1) at ≥ 60% of the one-read ceiling: {ratio:.0%}"
        if (page := results.get("one_page")) and (one_read := results.get("one_read")):
            shape = first["of_ceiling"] / page["of_ceiling"]
            what += f" (one page, the page's shape without the app, is {page['rps'] / one_read['rps']:.0%} of one read"
            what += f"; the endpoint is {shape:.0%} of one page)"
        checks.append((what, ratio >= 0.6))
    if (first := results.get("referrals_page_1")) and (deep := results.get("referrals_depth_50000")):
        ratio = deep["of_ceiling"] / first["of_ceiling"]
        what = f"a referral page {meta['deep']:,} deep costs what page 1 does: {ratio:.0%} of its throughput"
        checks.append((what, ratio >= 0.8))
    # The console's pages: an absolute target, 150 ms at 200,000 users and twice that at 1,000,000 and above.
    console_target = 150 if meta["users"] < 500_000 else 300
    for name in ("console_overview_90", "console_search", "console_user"):
        if r := results.get(name):
            what = f"{LABELS[name]} p99 under {console_target} ms: {r['p99_ms']:.1f} ms"
            checks.append((what, r["p99_ms"] < console_target))
    if light := results.get("auth_code_light"):
        saturated = results.get("auth_code")
        what = f"POST /auth/code p99 under 50 ms with a 1-2 s gateway: {light['p99_ms']:.1f} ms at a light load"
        if saturated:
            what += f" ({saturated['p99_ms']:.1f} ms at saturation, where it is the queue of 32 connections)"
        checks.append((what, light["p99_ms"] < 50))
    checks.append(
        (
            f"zero errors: {sum(r['errors'] for r in results.values())}",
            all(r["errors"] == 0 for r in results.values()),
        )
    )
    one_shot = [
        results[name]
        for name in ("profile_invite", "profile_invite_many", "auth_token", "auth_token_invite")
        if name in results
    ]
    if one_shot:
        most = max(max(r["per_slice"]) for r in one_shot)
        checks.append(
            (
                f"no wrk thread ran past its block of one-shot lines (fresh users, live codes): at most {most:,} "
                "requests a slice",
                most <= 10_000,
            )
        )
    return checks


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    postgres = subprocess.run(["psql", "-d", "postgres", "-Atc", "SHOW server_version"], capture_output=True, text=True)
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, PostgreSQL {postgres.stdout.strip() or '?'}"
    )


def gunicorn_settings() -> str:
    workers = os.environ.get("GUNICORN_WORKERS", f"{(os.cpu_count() or 1) * 2}")
    return f"{workers} workers × {os.environ.get('GUNICORN_THREADS', '4')} threads, gthread"


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:5])
