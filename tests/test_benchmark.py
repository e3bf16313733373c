"""messaging_benchmark prints METRIC lines in the agreed format, at tiny sizes.

The tests share one throwaway database (the command reuses it) so that only one
migration runs; the site's database is never used.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection

from config import children
from config.benchmarks import memory, prepare_memory
from config.benchmarks.child import check_method, run_measured
from config.benchmarks.common import throwaway_database, write_metric
from messaging.models import MessageReceiver

pytestmark = pytest.mark.bench

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
    variants = {
        found.group(1)
        for line in lines
        if (found := re.fullmatch(rf"METRIC send_variant name=(\w+) .*ratio={NUMBER}.*", line))
    }
    assert {"smtp_pipelining", "async_status_writes", "direct_mime", "all_tricks"} <= variants
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


# --- the latency sink, --rtt-ms, send_rtt10 and peers ------------------------------------


@pytest.fixture
def latency_sink():
    """The latency sink at 50 ms on a free port; yields the port."""
    from config.benchmarks.common import free_port, stop_process, wait_for_smtp
    from config.benchmarks.latency_sink import command

    port = free_port()
    process = children.start(command(port, 50))
    assert wait_for_smtp(port, process)
    yield port
    stop_process(process)


FINAL_REPLY = re.compile(rb"^\d{3} [^\r]*\r\n", re.M)  # "250 Ok", not "250-PIPELINING"


def read_replies(sock, count: int) -> bytes:
    """What ``sock`` receives until ``count`` complete replies have come."""
    data = b""
    while len(FINAL_REPLY.findall(data)) < count:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    return data


def test_latency_sink_delays_each_reply_and_answers_a_pipelined_group_in_order(latency_sink):
    with socket.create_connection(("127.0.0.1", latency_sink), timeout=5) as sock:
        read_replies(sock, 1)  # the greeting
        sock.sendall(b"EHLO client\r\n")
        assert b"250-PIPELINING\r\n" in read_replies(sock, 1)
        start = time.perf_counter()
        sock.sendall(b"NOOP\r\n")
        assert read_replies(sock, 1) == b"250 2.0.0 Ok\r\n"
        assert time.perf_counter() - start >= 0.05
        # MAIL, RCPT and DATA in one write: three replies, in this order.
        sock.sendall(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
        replies = FINAL_REPLY.findall(read_replies(sock, 3))
        assert [reply[:4] for reply in replies] == [b"250 ", b"250 ", b"354 "]
        # A message in pieces, with a dot-stuffed line that must not end it.
        sock.sendall(b"Subject: x\r\n\r\n..not the end\r\n.\r")
        sock.sendall(b"last line\r\n.")
        sock.sendall(b"\r\nQUIT\r\n")
        assert read_replies(sock, 2) == b"250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n"
        assert sock.recv(16) == b""  # closed after QUIT


def test_send_benchmark_runs_against_a_far_sink_with_rtt_ms(bench_db):
    out = StringIO()
    call_command(
        "messaging_benchmark",
        *("--only", "send", "--receivers", "5", "--rtt-ms", "5"),
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert "send: SMTP sink: latency" in lines[0]
    pattern = (
        rf"METRIC send ours={NUMBER} baseline={NUMBER} ratio={NUMBER} baseline_pipelined={NUMBER}"
    )
    assert [line for line in lines if re.fullmatch(pattern, line)], lines


def test_send_rtt10_prints_its_metric_line(bench_db):
    out = StringIO()
    call_command(
        "messaging_benchmark",
        *("--only", "send_rtt10", "--receivers", "6", "--rounds", "1"),
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert "6 emails" in lines[0]
    pattern = rf"METRIC send_rtt10 ours={NUMBER} bare={NUMBER} ratio={NUMBER}"
    assert [line for line in lines if re.fullmatch(pattern, line)], lines
    assert not MessageReceiver.objects.exists()  # cleared afterwards


def test_rate_limit_overhead_prints_its_metric_line(bench_db):
    out = StringIO()
    call_command(
        "messaging_benchmark",
        *("--only", "rate_limit_overhead", "--receivers", "20", "--sink", "aiosmtpd"),
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert "20 emails, no MESSAGING_MAX_PER_SECOND" in lines[0]
    pattern = rf"METRIC rate_limit_overhead ours=({NUMBER}) without=({NUMBER}) ratio=({NUMBER})"
    [found] = [found for line in lines if (found := re.fullmatch(pattern, line))]
    ours, without, ratio = (float(found.group(number)) for number in (1, 3, 5))
    assert ours > 0 and without > 0
    assert ratio == pytest.approx(ours / without, rel=0.01)
    assert 0.2 < ratio < 5  # the same send twice: a figure far off means a broken side
    assert not MessageReceiver.objects.exists()  # cleared afterwards


def test_peers_benchmark_runs_every_contender_under_the_bench_settings():
    out = StringIO()
    call_command(
        "messaging_benchmark",
        *("--only", "peers", "--receivers", "6", "--rounds", "1"),
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    assert "peers: SMTP sink:" in lines[0]
    pattern = rf"METRIC peers ours_w2={NUMBER} post_office_tuned={NUMBER} ratio={NUMBER}"
    assert [line for line in lines if re.fullmatch(pattern, line)], lines
    rows = [
        re.fullmatch(rf"METRIC peers_row name=(\w+) emails_s={NUMBER} ratio={NUMBER}", line)
        for line in lines
    ]
    names = [row.group(1) for row in rows if row]
    assert names == ["ours_w2", "post_office_default", "post_office_tuned", "mailer", "bare"]
    # The peers' apps stay out of the site's (here the tests') settings.
    assert not apps.is_installed("post_office")


def test_peers_benchmark_without_the_bench_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mailer", None)  # as if django-mailer were missing
    with pytest.raises(CommandError, match=r'mailer not installed.*pip install -e "\.\[bench\]"'):
        call_command("messaging_benchmark", "--only", "peers", stdout=StringIO())


# --- a killed benchmark leaves nothing running ---------------------------------------------


def parents() -> dict[int, int]:
    """pid -> parent pid of every process, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while we looked
            continue
        found[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    return found


def descendants(pid: int) -> set[int]:
    tree = parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in tree.items() if parent in frontier} - found
        found |= frontier
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pids: set[int]) -> set[int]:
    # A child that ended but was not yet reaped by init is a zombie: it runs nothing.
    return {pid for pid in pids if Path(f"/proc/{pid}").exists() and " Z " not in stat_of(pid)}


def stat_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
    except OSError:
        return " Z "


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_benchmark_leaves_no_sink_or_worker_running(signum, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DB_NAME")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings_test"
    env["TMPDIR"] = str(tmp_path)
    env["MESSAGING_VAR_DIR"] = str(tmp_path)  # the site's own database file, if opened
    benchmark = subprocess.Popen(
        [sys.executable, "manage.py", "messaging_benchmark", "--only", "send_worker"]
        + ["--receivers", "100000", "--rtt-ms", "5"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so that this test's own process group is never signalled
    )
    try:
        deadline = time.monotonic() + 120
        started: set[int] = set()
        while time.monotonic() < deadline and benchmark.poll() is None:
            started = descendants(benchmark.pid)
            lines = [command_line(pid) for pid in started]
            if any("latency_sink" in line for line in lines) and any(
                "db_worker" in line for line in lines
            ):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the benchmark never ran its sink and workers: {lines}")
        benchmark.send_signal(signum)
        benchmark.wait(timeout=30)
        deadline = time.monotonic() + 15
        while alive(started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(started), [command_line(pid) for pid in alive(started)]
    finally:
        if benchmark.poll() is None:
            benchmark.kill()


def test_priority_benchmark_prints_its_metric_line(bench_db):
    """Run small: a db_worker behind 1,200 low-priority emails (the part queues 20,000)."""
    from config.benchmarks import priority

    out = StringIO()
    priority.run(out, sink="aiosmtpd", low_emails=1200)
    lines = out.getvalue().splitlines()
    assert "goal: ratio <= 3" in lines[0]
    pattern = rf"METRIC priority_latency queued={NUMBER} idle={NUMBER} ratio={NUMBER}"
    assert re.fullmatch(pattern, lines[-1]), lines
