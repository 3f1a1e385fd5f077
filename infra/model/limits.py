"""What Google accepts: one constant or function per documented rule, each citing its page.

``Manifest.validate()`` and ``EnvConfig.validate()`` check every value against these rules
when the manifest loads, so a value Google would refuse stops ``load()`` with one line
instead of failing at apply (or at 3 a.m.). A rule answers ``None`` when the value is
accepted, else one sentence saying what is accepted (and what is wrong with the value).

The lists (regions, locations, runtimes) are copies of Google's documentation: when Google
adds a region or a runtime, add it here, beside the page it comes from.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

# ----- names -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NameRule:
    """A documented naming rule: a pattern, a length range and what else is refused."""

    kind: str
    """What is named, e.g. 'a Cloud Run service name'."""
    pattern: re.Pattern[str]
    min_len: int
    max_len: int
    accepts: str
    """The rule in words, for messages."""
    url: str
    extra: Callable[[str], str | None] | None = None
    """Further documented refusals (reserved prefixes, ...): the reason, or ``None``."""

    def problem(self, name: str) -> str | None:
        """``None`` when Google accepts ``name``; else what it accepts and what is wrong."""
        if not isinstance(name, str):
            return f"{self.kind} is a string: {self.accepts}"
        if not self.min_len <= len(name) <= self.max_len:
            return (f"{self.kind} is {self.min_len}-{self.max_len} characters "
                    f"(this one has {len(name)}): {self.accepts}")
        if not self.pattern.fullmatch(name):
            return f"{self.kind}: {self.accepts}"
        reason = self.extra(name) if self.extra else None
        return f"{self.kind}: {reason}" if reason else None


_RFC1035 = re.compile(r"[a-z](?:[-a-z0-9]*[a-z0-9])?")

# https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/create
# (serviceId) and the API's refusal: "Service name must use only letters, numbers and '-'.
# Must begin with a letter and cannot end with a '-'. Maximum length is 63 characters."
CLOUD_RUN_SERVICE = NameRule(
    "a Cloud Run service name", _RFC1035, 1, 63,
    "lowercase letters, digits and '-', starting with a letter, not ending with '-', "
    "at most 63 characters",
    "https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/create")

# https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions/create
# (functionId: "4-63 characters, and valid characters are /[a-z][0-9]-/"); a gen2 function
# runs as the Cloud Run service of the same name, so the Cloud Run rule holds too.
FUNCTION = NameRule(
    "a Cloud Functions (gen2) name", _RFC1035, 4, 63,
    "4-63 lowercase letters, digits and '-' (no '_'), starting with a letter, "
    "not ending with '-'",
    "https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions/create")

# https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#Job
# ("JOB_ID can contain only letters ([A-Za-z]), numbers ([0-9]), hyphens (-), or
# underscores (_). The maximum length is 500 characters.")
SCHEDULER_JOB = NameRule(
    "a Cloud Scheduler job name", re.compile(r"[A-Za-z0-9_-]+"), 1, 500,
    "letters, digits, '-' and '_', at most 500 characters",
    "https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#Job")


def _not_goog(name: str) -> str | None:
    return "it must not start with 'goog'" if name.lower().startswith("goog") else None


# https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names (topics and
# subscriptions: start with a letter, 3-255 characters of letters, digits and - . _ ~ % +,
# not starting with "goog").
PUBSUB = NameRule(
    "a Pub/Sub topic or subscription name", re.compile(r"[A-Za-z][A-Za-z0-9\-._~%+]*"), 3, 255,
    "3-255 letters, digits and '-._~%+', starting with a letter, not starting with 'goog'",
    "https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names", _not_goog)

# https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create
# (accountId: "must be 6-30 characters long, and match the regular expression
# [a-z]([-a-z0-9]*[a-z0-9])").
SERVICE_ACCOUNT = NameRule(
    "a service account id", _RFC1035, 6, 30,
    "6-30 lowercase letters, digits and '-', starting with a letter, not ending with '-'",
    "https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create")

# https://cloud.google.com/bigquery/docs/datasets#dataset-naming ("up to 1,024 characters;
# letters (uppercase or lowercase), numbers, and underscores").
BIGQUERY_DATASET = NameRule(
    "a BigQuery dataset id", re.compile(r"[A-Za-z0-9_]+"), 1, 1024,
    "letters, digits and '_', at most 1024 characters",
    "https://cloud.google.com/bigquery/docs/datasets#dataset-naming")

_TABLE_CATEGORIES = ("L", "M", "N", "Pc", "Pd", "Zs")


def _table_chars(name: str) -> str | None:
    if len(name.encode()) > 1024:
        return "it is longer than 1024 UTF-8 bytes"
    bad = sorted({c for c in name if not unicodedata.category(c).startswith(_TABLE_CATEGORIES)})
    return f"it contains {''.join(bad)!r}" if bad else None


# https://cloud.google.com/bigquery/docs/tables#table_naming ("up to 1,024 UTF-8 bytes;
# Unicode characters in category L, M, N, Pc, Pd, Zs").
BIGQUERY_TABLE = NameRule(
    "a BigQuery table id", re.compile(r".+", re.S), 1, 1024,
    "at most 1024 UTF-8 bytes of letters, marks, numbers, connectors ('_'), dashes and spaces",
    "https://cloud.google.com/bigquery/docs/tables#table_naming", _table_chars)


def _bucket_extra(name: str) -> str | None:
    if "." not in name and len(name) > 63:
        return f"a name without dots is at most 63 characters (this one has {len(name)})"
    if any(len(part) > 63 or not part for part in name.split(".")):
        return "each dot-separated part is 1-63 characters"
    if name.startswith("goog"):
        return "it must not start with 'goog'"
    if "google" in name or re.search(r"g[o0][o0]g[l1]e", name):
        return "it must not contain 'google' or a close misspelling"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return None
    return "it must not be an IP address"


# https://cloud.google.com/storage/docs/buckets#naming (lowercase letters, digits, '-', '_'
# and '.'; start and end with a letter or digit; 3-63 characters, up to 222 with dots, each
# dot-separated part at most 63; not an IP address; no "goog" prefix, no "google").
BUCKET = NameRule(
    "a Cloud Storage bucket name", re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?"), 3, 222,
    "3-63 lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or "
    "digit, no 'goog' prefix and no 'google'",
    "https://cloud.google.com/storage/docs/buckets#naming", _bucket_extra)

# https://cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin
# (project ID: 6-30 characters, lowercase letters, digits and hyphens, starting with a
# letter, not ending with a hyphen).
PROJECT_ID = NameRule(
    "a project id", re.compile(r"[a-z][a-z0-9-]*[a-z0-9]"), 6, 30,
    "6-30 lowercase letters, digits and '-', starting with a letter, not ending with '-'",
    "https://cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin")

# https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create
# (secretId: "at most 255 characters ... letters, numerals, hyphens and underscores").
SECRET_ID = NameRule(
    "a Secret Manager secret id", re.compile(r"[A-Za-z0-9_-]+"), 1, 255,
    "letters, digits, '-' and '_', at most 255 characters",
    "https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create")


# ----- locations -------------------------------------------------------------------------

# https://cloud.google.com/run/docs/locations (Cloud Run services and jobs; gen2 functions
# run on Cloud Run: https://cloud.google.com/functions/docs/locations). An environment's
# region hosts its services, functions and scheduler jobs.
CLOUD_RUN_REGIONS = frozenset({
    # Tier 1
    "asia-east1", "asia-northeast1", "asia-northeast2", "europe-north1", "europe-southwest1",
    "europe-west1", "europe-west4", "europe-west8", "europe-west9", "me-west1", "us-central1",
    "us-east1", "us-east4", "us-east5", "us-south1", "us-west1",
    # Tier 2
    "africa-south1", "asia-east2", "asia-northeast3", "asia-southeast1", "asia-southeast2",
    "asia-south1", "asia-south2", "australia-southeast1", "australia-southeast2",
    "europe-central2", "europe-west10", "europe-west12", "europe-west2", "europe-west3",
    "europe-west6", "me-central1", "me-central2", "northamerica-northeast1",
    "northamerica-northeast2", "southamerica-east1", "southamerica-west1", "us-west2",
    "us-west3", "us-west4",
})

# https://cloud.google.com/bigquery/docs/locations: the multi-regions US and EU, and the
# regions (every Cloud Run region above is one, and Mexico's).
BIGQUERY_LOCATIONS = CLOUD_RUN_REGIONS | {"US", "EU", "northamerica-south1"}

# https://cloud.google.com/firestore/docs/locations: the multi-regions nam5, nam7 and eur3,
# and the regional locations (the Cloud Run regions above, and Mexico's).
FIRESTORE_LOCATIONS = CLOUD_RUN_REGIONS | {"nam5", "nam7", "eur3", "northamerica-south1"}


def location_problem(value: str, allowed: frozenset[str], kind: str) -> str | None:
    """``None`` when ``value`` is in ``allowed``; else the nearest names and the list's page."""
    if value in allowed:
        return None
    near = sorted(a for a in allowed if a.split("-")[0] == str(value).split("-")[0]) \
        or sorted(allowed)[:6]
    return f"{kind}, e.g. {', '.join(near[:8])}"


# ----- functions -------------------------------------------------------------------------

# https://cloud.google.com/functions/docs/runtime-support: the Python runtime ids Cloud
# Functions deploys (python39 and older are decommissioned: no new deploys; python310 is
# deprecated, still deployable).
FUNCTION_RUNTIMES = frozenset({"python310", "python311", "python312", "python313", "python314"})

# https://cloud.google.com/functions/docs/configuring/timeout: gen2 HTTP functions up to
# 60 minutes, event-driven ones up to 9 minutes.
FUNCTION_TIMEOUT_MAX = {"http": 3600, "cloudevent": 540}
FUNCTION_KIND = {"http": "HTTP gen2 functions", "cloudevent": "event-driven (Pub/Sub) gen2 functions"}

# https://cloud.google.com/functions/docs/configuring/memory
FUNCTION_MEMORY_MB = (128, 256, 512, 1024, 2048, 4096, 8192)

# https://cloud.google.com/run/docs/configuring/max-instances-limits: at least 1 instance
# (0 would serve nothing); the regional baseline quota is 1000 instances (more needs a quota
# increase, then raise this). Gen2 functions are Cloud Run services: the same bounds.
# https://cloud.google.com/run/docs/configuring/min-instances: 0 (scale to zero) or more.
MAX_INSTANCES = 1000


def scaling_problem(min_instances: int, max_instances: int) -> tuple[str, int, str] | None:
    """``(field, value, accepted)`` of the first bound Cloud Run refuses, or ``None``."""
    if not isinstance(max_instances, int) or not 1 <= max_instances <= MAX_INSTANCES:
        return ("max_instances", max_instances,
                f"1..{MAX_INSTANCES} (Cloud Run: at least 1, at most the regional baseline "
                f"quota of {MAX_INSTANCES} instances)")
    if not isinstance(min_instances, int) or not 0 <= min_instances <= max_instances:
        return ("min_instances", min_instances,
                f"0..max_instances ({max_instances}): min_instances may not exceed max_instances")
    return None


# https://cloud.google.com/run/docs/configuring/request-timeout: 1 s to 60 minutes.
CLOUD_RUN_TIMEOUT_MAX = 3600

# https://cloud.google.com/pubsub/docs/subscription-properties (ack deadline 10-600 s) and
# https://cloud.google.com/pubsub/docs/handling-failures#dead_letter_topic (5-100 attempts).
ACK_DEADLINE_SECONDS = (10, 600)
DELIVERY_ATTEMPTS = (5, 100)


# ----- time zones ------------------------------------------------------------------------

@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone_problem(tz: str) -> str | None:
    """https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs#Job
    (timeZone: "the time zone name from the tz database"): ``None`` for an IANA name."""
    if isinstance(tz, str) and tz in _time_zones():
        return None
    return "an IANA time zone name (tz database), e.g. America/New_York, Europe/London, UTC"


# ----- container images ------------------------------------------------------------------

# The Docker reference grammar (https://github.com/distribution/reference/blob/main/reference.go),
# which Cloud Run's image field follows (https://cloud.google.com/run/docs/deploying#images):
#   reference := name [":" tag] ["@" digest];  name := domain "/" path-component ["/" ...]
#   path-component := [a-z0-9]+ (separator [a-z0-9]+)*;  separator := [_.] | "__" | [-]+
#   tag := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127};  a name is at most 255 characters.
_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
IMAGE_DOMAIN = re.compile(rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?")
IMAGE_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*")
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
IMAGE_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
IMAGE_NAME_MAX = 255
_IMAGE_FORM = ("registry/path:tag (e.g. us-west2-docker.pkg.dev/<project>/<repo>/<name>:<tag>; "
               "registry a host name, path lowercase [a-z0-9] parts joined by '.', '_', '__' "
               "or '-', tag [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})")


def image_problem(ref: str) -> str | None:
    """``None`` for ``registry/path:tag`` (or ``@digest``) by the Docker reference grammar."""
    if not isinstance(ref, str) or not ref:
        return f"an image reference {_IMAGE_FORM}"
    rest, _, digest = ref.partition("@")
    if digest and not IMAGE_DIGEST.fullmatch(digest):
        return f"digest {digest!r} is not <algorithm>:<hex>; an image reference {_IMAGE_FORM}"
    name, tag = rest, ""
    if ":" in rest.rsplit("/", 1)[-1]:
        name, _, tag = rest.rpartition(":")
        if not IMAGE_TAG.fullmatch(tag):
            return f"tag {tag!r} is not a valid tag; an image reference {_IMAGE_FORM}"
    if not tag and not digest:
        return f"no tag: an image reference {_IMAGE_FORM}"
    domain, _, path = name.partition("/")
    # As Docker reads it: the first part is a registry only with a '.' or ':' (or localhost).
    if not path or not ("." in domain or ":" in domain or domain == "localhost") \
            or not IMAGE_DOMAIN.fullmatch(domain):
        return f"{domain!r} is not a registry host; an image reference {_IMAGE_FORM}"
    for part in path.split("/"):
        if not IMAGE_PATH_COMPONENT.fullmatch(part):
            return f"path part {part!r} is not lowercase [a-z0-9] joined by . _ __ or -; " \
                   f"an image reference {_IMAGE_FORM}"
    if len(name) > IMAGE_NAME_MAX:
        return f"the name is longer than {IMAGE_NAME_MAX} characters; an image reference " \
               f"{_IMAGE_FORM}"
    return None


# ----- Cloud Scheduler cron --------------------------------------------------------------

# https://cloud.google.com/scheduler/docs/configuring/cron-job-schedules: five fields,
# minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-6 or
# SUN-SAT (7 is Sunday too); '*', ranges a-b, lists a,b and steps */n or a-b/n. Unlike
# croniter, Cloud Scheduler does not support 'L' (last day), nor 'W', '#' or '?'.
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {n: i + 1 for i, n in enumerate(MONTH_NAMES)}),
    ("day of week", 0, 7, {n: i for i, n in enumerate(DAY_NAMES)}),
)
CRON_ACCEPTS = ("a 5-field unix cron expression as Cloud Scheduler reads it ('minute hour "
                "day-of-month month day-of-week': numbers, '*', ranges a-b, lists a,b, steps "
                "*/n or a-b/n, months 1-12 or JAN-DEC, days 0-7 or SUN-SAT; no L, W, # or ?), "
                "e.g. '30 10 * * *'")
_CRON_ITEM = re.compile(r"(?P<base>\*|(?P<lo>[0-9]+|[A-Z]{3})(?:-(?P<hi>[0-9]+|[A-Z]{3}))?)"
                        r"(?:/(?P<step>[0-9]+))?")


def _cron_value(token: str, lo: int, hi: int, names: dict[str, int]) -> int | None:
    value = names.get(token) if token.isalpha() else int(token)
    return value if value is not None and lo <= value <= hi else None


def _cron_field_problem(text: str, name: str, lo: int, hi: int, names: dict[str, int]) -> str | None:
    for item in text.split(","):
        m = _CRON_ITEM.fullmatch(item)
        unsupported = sorted(set(item) & set("LW#?"))
        if not m and unsupported:
            return (f"{name} item {item!r} uses {''.join(unsupported)!r}, which croniter reads "
                    "but Cloud Scheduler does not support")
        if not m:
            return f"{name} item {item!r} is not a number, name, '*', range or step"
        if m["base"] != "*":
            first = _cron_value(m["lo"], lo, hi, names)
            last = _cron_value(m["hi"], lo, hi, names) if m["hi"] else first
            if first is None or last is None:
                return f"{name} item {item!r} is out of range {lo}-{hi}"
            if last < first:
                return f"{name} range {item!r} runs backwards"
            if m["step"] is not None and m["hi"] is None:
                return f"{name} step {item!r} needs '*' or a range before '/'"
        if m["step"] is not None and not 1 <= int(m["step"]) <= hi - lo + 1:
            return f"{name} step {item!r} must be 1..{hi - lo + 1}"
    return None


def cron_problem(expr: str) -> str | None:
    """``None`` when Cloud Scheduler accepts ``expr``; else what is wrong and what it accepts."""
    fields = expr.split() if isinstance(expr, str) else []
    if len(fields) != 5:
        return f"{CRON_ACCEPTS}; this one has {len(fields)} fields"
    for text, (name, lo, hi, names) in zip(fields, CRON_FIELDS, strict=True):
        reason = _cron_field_problem(text, name, lo, hi, names)
        if reason:
            return f"{CRON_ACCEPTS}; here the {reason}"
    from croniter import croniter  # the scheduling code reads schedules with croniter

    if not croniter.is_valid(expr):
        return f"{CRON_ACCEPTS}; croniter (which the stacks use) cannot read it"
    return None


# ----- how often a schedule runs -----------------------------------------------------------

GAP_YEAR = 2026
"""The year over which ``longest_gap_minutes`` looks at a schedule (fixed, so load is
deterministic; one year covers every month, weekday and both DST changes)."""


class NeverRuns(ValueError):
    """A schedule no date matches (e.g. '0 0 31 2 *')."""


def _times_of_day(minute: str, hour: str) -> tuple[int, ...]:
    """Seconds after local midnight at which ``minute hour`` fires (croniter over a day)."""
    from croniter import croniter

    day = dt.datetime(2001, 1, 1)
    it = croniter(f"{minute} {hour} * * *", day - dt.timedelta(minutes=1))
    out = []
    while (t := it.get_next(dt.datetime)) < day + dt.timedelta(days=1):
        out.append(int((t - day).total_seconds()))
    return tuple(out)


def _days(dom: str, month: str, dow: str, year: int) -> list[dt.date]:
    """The dates ``dom month dow`` matches in ``year``, with the last match before it and the
    first after it (croniter: day of month and day of week OR-ed, as Cloud Scheduler does)."""
    from croniter import CroniterBadDateError, croniter

    expr = f"0 0 {dom} {month} {dow}"
    start, end = dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1)
    try:
        days = [croniter(expr, start).get_prev(dt.datetime).date()]
        it = croniter(expr, start - dt.timedelta(minutes=1))
        while True:
            d = it.get_next(dt.datetime)
            days.append(d.date())
            if d >= end:
                return days
    except CroniterBadDateError as exc:
        raise NeverRuns(f"no date matches day-of-month {dom!r}, month {month!r}, "
                        f"day-of-week {dow!r}") from exc


@cache
def fire_times(schedule: str, time_zone: str, year: int = GAP_YEAR) -> tuple[float, ...]:
    """UTC timestamps at which ``schedule`` runs in ``time_zone`` over ``year`` (plus its last
    run before and its first run after), sorted. ``NeverRuns`` when no date matches."""
    minute, hour, dom, month, dow = schedule.split()
    tz = ZoneInfo(time_zone)
    offsets = _times_of_day(minute, hour)
    fires: list[float] = []
    for d in _days(dom, month, dow, year):
        first = dt.datetime(d.year, d.month, d.day, tzinfo=tz)
        last = dt.datetime(d.year, d.month, d.day, 23, 59, tzinfo=tz)
        if first.utcoffset() == last.utcoffset():  # no clock change that day: one offset
            base = first.timestamp()
            fires.extend(base + s for s in offsets)
        else:
            for s in offsets:
                fires.extend(_instants(dt.datetime(d.year, d.month, d.day, s // 3600,
                                                   s % 3600 // 60, tzinfo=tz)))
    return tuple(sorted(set(fires)))


def _instants(local: dt.datetime) -> list[float]:
    """The instants a wall-clock time names on a day the clock changes: none when the clock
    skips it, two when it repeats it (a cron schedule matches the wall clock)."""
    out = []
    for fold in (0, 1):
        t = local.replace(fold=fold)
        back = dt.datetime.fromtimestamp(t.timestamp(), t.tzinfo)
        if back.replace(tzinfo=None) == t.replace(tzinfo=None):
            out.append(t.timestamp())
    return out


@cache
def longest_gap_minutes(schedules: tuple[tuple[str, str], ...], year: int = GAP_YEAR) -> int:
    """The longest time, in minutes, between two runs of any of ``schedules`` (each
    ``(cron, time zone)``) over ``year``: their runs merged, as one caller sees them."""
    fires = sorted(set(itertools.chain.from_iterable(fire_times(s, tz, year)
                                                     for s, tz in schedules)))
    gaps = (b - a for a, b in itertools.pairwise(fires))
    return int(max(gaps, default=366 * 86400) // 60)


def never_runs(schedule: str, year: int = GAP_YEAR) -> str | None:
    """``None`` when ``schedule`` (already valid) runs at all; else why it never does
    (Cloud Scheduler accepts e.g. '0 0 31 2 *', a job that never fires)."""
    from croniter import CroniterBadDateError, croniter

    try:
        croniter(schedule, dt.datetime(year, 1, 1)).get_next(dt.datetime)
    except CroniterBadDateError:
        _, _, dom, month, dow = schedule.split()
        return (f"it never runs: no date matches day-of-month {dom!r} in month {month!r} "
                f"(day-of-week {dow!r})")
    return None
