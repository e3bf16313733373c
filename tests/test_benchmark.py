"""messaging_benchmark prints METRIC lines in the agreed format, at tiny sizes.

The tests share one throwaway database (the command reuses it) so that only one
migration runs; the site's database is never used.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from config.benchmarks import memory, prepare_memory
from config.benchmarks.child import check_method, run_measured
from config.benchmarks.common import throwaway_database, write_metric
from messaging.models import MessageReceiver

NUMBER = r"\d+(\.\d+)?"


@pytest.fixture(scope="module")
def bench_db(django_db_blocker):
    with django_db_blocker.unblock(), throwaway_database() as name:
        yield name


def test_write_metric_format():
    out = StringIO()
    write_metric(out, "send", ours=712.345, baseline=800, ratio=0.8904)
    assert out.getvalue() == "METRIC send ours=712.3 baseline=800.0 ratio=0.89\n"


def test_send_benchmark_prints_its_metric_line(bench_db):
    out = StringIO()
    call_command(
        "messaging_benchmark",
        *("--only", "send", "--receivers", "30", "--sink", "aiosmtpd"),
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert "send: SMTP sink: aiosmtpd" in lines[0]
    pattern = (
        rf"METRIC send ours={NUMBER} baseline={NUMBER} ratio={NUMBER}"
        rf"( baseline_pipelined={NUMBER})?"
    )
    assert [line for line in lines if re.fullmatch(pattern, line)], lines
    assert connection.settings_dict["NAME"] == bench_db


def test_resend_memory_measures_the_command_in_a_child_process(bench_db):
    run = memory.measure(200)
    assert MessageReceiver.objects.filter(pending_sends=1).count() == 200
    assert "200 messages were automatically resent." in run.output
    # The child's own peak: a Django process needs tens of megabytes, not gigabytes.
    assert 20 < run.peak_mib < 1000


def test_child_peak_is_the_childs_own_not_the_parents():
    ballast = b"x" * (200 * 2**20)  # the parent peaks above 200 MiB
    idle, filled = check_method()  # raises unless the 50 MiB show up
    assert 45 < filled - idle < 60
    assert idle < 60  # a bare Python, not this process's peak
    assert len(ballast) and run_measured(["-c", "pass"]).peak_mib < 60


def test_send_worker_times_real_workers(bench_db):
    out = StringIO()
    call_command(
        "messaging_benchmark",
        *("--only", "send_worker", "--receivers", "20", "--sink", "aiosmtpd"),
        stdout=out,
    )
    pattern = rf"METRIC send_worker workers1={NUMBER} workers2={NUMBER} ratio={NUMBER}"
    assert [line for line in out.getvalue().splitlines() if re.fullmatch(pattern, line)]


def test_prepare_memory_measures_send_message_in_a_child(bench_db):
    prepare_memory.setup(users=300)
    peak = prepare_memory.measure(200)  # raises unless the child prepared 200 receivers
    assert 20 < peak < 1000


def test_prepare_benchmark_prints_both_metric_lines(bench_db):
    out = StringIO()
    call_command("messaging_benchmark", "--only", "prepare", "--receivers", "4", stdout=out)
    lines = out.getvalue().splitlines()
    for name in ("prepare", "prepare_realistic"):
        pattern = rf"METRIC {name} ours={NUMBER} baseline={NUMBER} ratio={NUMBER}"
        assert [line for line in lines if re.fullmatch(pattern, line)], lines
    assert MessageReceiver.objects.filter(message__template__key="bench-prepare").count() == 0


def test_bulk_resend_memory_prints_its_metric_line(bench_db):
    from config.benchmarks import bulk_resend

    out = StringIO()
    bulk_resend.run(out, sizes=(300, 600))
    pattern = rf"METRIC bulk_resend_memory n10k={NUMBER} n50k={NUMBER} ratio={NUMBER}"
    assert re.fullmatch(pattern, out.getvalue().splitlines()[-1])
    assert not MessageReceiver.objects.exists()  # cleared afterwards


def test_bounces_benchmark_applies_every_report_and_prints_its_line(bench_db):
    from config.benchmarks import bounces

    out = StringIO()
    bounces.run(out, count=25)
    pattern = rf"METRIC bounces n=25 per_s={NUMBER} baseline_per_s={NUMBER} ratio={NUMBER}"
    assert re.fullmatch(pattern, out.getvalue().strip()), out.getvalue()
    assert MessageReceiver.objects.exclude(delivery_status="unknown").count() == 25
