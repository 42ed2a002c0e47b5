"""Night is local: ``is_dark`` against an independent reference, all over the world.

The reference is written here from NOAA's solar position equations (the
spreadsheet algorithm: Julian century, equation of time, declination, hour
angle -> elevation), sharing no code with astral. Dark = the sun's centre more
than 0.833 degrees below the horizon (refraction plus the sun's radius). Near
that boundary the two may differ by a minute or so; instants whose reference
elevation is within ``MARGIN`` degrees of it are not judged.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil_engine.risk.sun import is_dark, sun_times

MARGIN = 0.3  # degrees
HORIZON = -0.833

# (name, latitude, longitude, IANA zone): every continent, both hemispheres, UTC-12 to
# UTC+14, odd offsets, and polar day/night on both poles.
PLACES = [
    ("London", 51.5, -0.12, "Europe/London"), ("Reykjavik", 64.15, -21.94, "Atlantic/Reykjavik"),
    ("Madrid", 40.42, -3.7, "Europe/Madrid"), ("Berlin", 52.52, 13.4, "Europe/Berlin"),
    ("Helsinki", 60.17, 24.94, "Europe/Helsinki"), ("Moscow", 55.76, 37.62, "Europe/Moscow"),
    ("Tromso", 69.65, 18.96, "Europe/Oslo"), ("Murmansk", 68.97, 33.08, "Europe/Moscow"),
    ("Longyearbyen", 78.22, 15.65, "Arctic/Longyearbyen"),
    ("Athens", 37.98, 23.73, "Europe/Athens"), ("Istanbul", 41.01, 28.98, "Europe/Istanbul"),
    ("Cairo", 30.04, 31.24, "Africa/Cairo"), ("Lagos", 6.52, 3.38, "Africa/Lagos"),
    ("Nairobi", -1.29, 36.82, "Africa/Nairobi"), ("Kinshasa", -4.44, 15.27, "Africa/Kinshasa"),
    ("Cape Town", -33.92, 18.42, "Africa/Johannesburg"), ("Dakar", 14.72, -17.47, "Africa/Dakar"),
    ("Antananarivo", -18.88, 47.51, "Indian/Antananarivo"),
    ("Dubai", 25.2, 55.27, "Asia/Dubai"), ("Tehran", 35.69, 51.39, "Asia/Tehran"),
    ("Kabul", 34.56, 69.21, "Asia/Kabul"), ("Delhi", 28.61, 77.21, "Asia/Kolkata"),
    ("Kathmandu", 27.72, 85.32, "Asia/Kathmandu"), ("Urumqi", 43.83, 87.62, "Asia/Shanghai"),
    ("Singapore", 1.35, 103.82, "Asia/Singapore"), ("Jakarta", -6.21, 106.85, "Asia/Jakarta"),
    ("Beijing", 39.9, 116.4, "Asia/Shanghai"), ("Tokyo", 35.68, 139.69, "Asia/Tokyo"),
    ("Norilsk", 69.35, 88.2, "Asia/Krasnoyarsk"), ("Yakutsk", 62.03, 129.73, "Asia/Yakutsk"),
    ("Anadyr", 64.73, 177.51, "Asia/Anadyr"),
    ("Perth", -31.95, 115.86, "Australia/Perth"), ("Darwin", -12.46, 130.84, "Australia/Darwin"),
    ("Adelaide", -34.93, 138.6, "Australia/Adelaide"),
    ("Sydney", -33.87, 151.21, "Australia/Sydney"), ("Hobart", -42.88, 147.33, "Australia/Hobart"),
    ("Auckland", -36.85, 174.76, "Pacific/Auckland"), ("Chatham", -43.95, -176.56,
                                                       "Pacific/Chatham"),
    ("Kiritimati", 1.87, -157.4, "Pacific/Kiritimati"), ("Apia", -13.83, -171.76, "Pacific/Apia"),
    ("Pago Pago", -14.28, -170.7, "Pacific/Pago_Pago"), ("Baker Island", 0.19, -176.48,
                                                         "Etc/GMT+12"),
    ("Tongatapu", -21.14, -175.2, "Pacific/Tongatapu"), ("Honolulu", 21.31, -157.86,
                                                         "Pacific/Honolulu"),
    ("Utqiagvik", 71.29, -156.79, "America/Anchorage"),
    ("Anchorage", 61.22, -149.9, "America/Anchorage"),
    ("San Francisco", 37.77, -122.42, "America/Los_Angeles"),
    ("Denver", 39.74, -104.99, "America/Denver"), ("Mexico City", 19.43, -99.13,
                                                   "America/Mexico_City"),
    ("Chicago", 41.88, -87.63, "America/Chicago"), ("New York", 40.71, -74.01,
                                                    "America/New_York"),
    ("Iqaluit", 63.75, -68.52, "America/Iqaluit"), ("St. John's", 47.56, -52.71,
                                                    "America/St_Johns"),
    ("Nuuk", 64.18, -51.69, "America/Nuuk"), ("Bogota", 4.71, -74.07, "America/Bogota"),
    ("Quito", -0.18, -78.47, "America/Guayaquil"), ("Lima", -12.05, -77.04, "America/Lima"),
    ("Sao Paulo", -23.55, -46.63, "America/Sao_Paulo"),
    ("Buenos Aires", -34.6, -58.38, "America/Argentina/Buenos_Aires"),
    ("Santiago", -33.45, -70.67, "America/Santiago"),
    ("Ushuaia", -54.8, -68.3, "America/Argentina/Ushuaia"),
    ("McMurdo", -77.85, 166.67, "Antarctica/McMurdo"),
    ("Casey", -66.28, 110.53, "Antarctica/Casey"), ("Rothera", -67.57, -68.13,
                                                    "Antarctica/Rothera"),
]


def reference_elevation(when: np.ndarray, lat: float, lon: float) -> np.ndarray:
    """Geometric solar elevation in degrees at epoch seconds ``when`` (NOAA's solar
    calculator equations, vectorised)."""
    jd = when / 86400.0 + 2440587.5
    t = (jd - 2451545.0) / 36525.0
    l0 = (280.46646 + t * (36000.76983 + t * 0.0003032)) % 360.0
    m = np.radians(357.52911 + t * (35999.05029 - 0.0001537 * t))
    e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
    c = (np.sin(m) * (1.914602 - t * (0.004817 + 0.000014 * t))
         + np.sin(2 * m) * (0.019993 - 0.000101 * t) + np.sin(3 * m) * 0.000289)
    omega = np.radians(125.04 - 1934.136 * t)
    apparent = np.radians(l0 + c - 0.00569 - 0.00478 * np.sin(omega))
    eps0 = 23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60.0) / 60.0
    eps = np.radians(eps0 + 0.00256 * np.cos(omega))
    decl = np.arcsin(np.sin(eps) * np.sin(apparent))
    y = np.tan(eps / 2) ** 2
    l0r = np.radians(l0)
    eqtime = 4 * np.degrees(
        y * np.sin(2 * l0r) - 2 * e * np.sin(m) + 4 * e * y * np.sin(m) * np.cos(2 * l0r)
        - 0.5 * y * y * np.sin(4 * l0r) - 1.25 * e * e * np.sin(2 * m))
    minutes = (when % 86400.0) / 60.0
    true_solar = (minutes + eqtime + 4 * lon) % 1440
    hour_angle = np.radians(true_solar / 4 - 180)
    latr = math.radians(lat)
    cos_zenith = (math.sin(latr) * np.sin(decl)
                  + math.cos(latr) * np.cos(decl) * np.cos(hour_angle))
    return 90.0 - np.degrees(np.arccos(np.clip(cos_zenith, -1.0, 1.0)))


def elevation_at(when: datetime, lat: float, lon: float) -> float:
    return float(reference_elevation(np.array([when.timestamp()]), lat, lon)[0])


def check(when: datetime, lat: float, lon: float, where: str, elev: float | None = None
          ) -> bool:
    """Compare at one instant; False when too close to the horizon to judge."""
    elev = elevation_at(when, lat, lon) if elev is None else elev
    if abs(elev - HORIZON) < MARGIN:
        return False
    assert is_dark(when, lat, lon) == (elev < HORIZON), (
        f"{where} at {when.isoformat()}: reference elevation {elev:.2f} deg")
    return True


def test_every_day_of_a_year_in_places_all_over_the_world() -> None:
    assert len(PLACES) >= 50
    judged = polar_days = polar_nights = 0
    for name, lat, lon, zone in PLACES:
        tz = ZoneInfo(zone)
        day = date(2026, 1, 1)
        instants: list[datetime] = []
        while day.year == 2026:
            rise, set_ = sun_times(day, lat, lon, tz)
            hours = [datetime(day.year, day.month, day.day, h, 30, tzinfo=tz)
                     for h in (0, 6, 12, 18)]
            edges = []
            for edge in (rise, set_):
                if edge is not None:
                    assert edge.date() == day and edge.tzinfo is not None
                    edges += [edge - timedelta(minutes=8), edge + timedelta(minutes=8)]
            if rise is None and set_ is None:
                noon = elevation_at(hours[2], lat, lon)
                polar_days += noon > 0
                polar_nights += noon < -1
            instants += hours + [w for w in edges if w.date() == day]  # may cross midnight
            day += timedelta(days=1)
        elevations = reference_elevation(np.array([w.timestamp() for w in instants]), lat, lon)
        for when, elev in zip(instants, elevations, strict=True):
            judged += check(when, lat, lon, name, float(elev))
    # Nearly everything was judged (only instants right at the horizon are skipped), and
    # the polar day and night were met.
    assert judged >= 0.95 * len(PLACES) * 365 * 4
    assert polar_days >= 100 and polar_nights >= 100


def test_night_follows_the_local_calendar_not_utc() -> None:
    # San Francisco, a June evening at 17:30 local (00:30 UTC the next day): daylight.
    sf = datetime(2026, 6, 20, 17, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert not is_dark(sf, 37.77, -122.42)
    assert is_dark(sf.replace(hour=22), 37.77, -122.42)
    # Auckland, a winter morning at 09:00 local (21:00 UTC the day before): daylight.
    akl = datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo("Pacific/Auckland"))
    assert not is_dark(akl, -36.85, 174.76)
    assert is_dark(akl.replace(hour=6), -36.85, 174.76)
    # Polar night in Longyearbyen at noon, midnight sun at midnight.
    lyr = ZoneInfo("Arctic/Longyearbyen")
    assert is_dark(datetime(2026, 12, 21, 12, 0, tzinfo=lyr), 78.22, 15.65)
    assert not is_dark(datetime(2026, 6, 21, 0, 30, tzinfo=lyr), 78.22, 15.65)


@settings(max_examples=400, deadline=None)
@given(lat=st.floats(-89.0, 89.0), lon=st.floats(-180.0, 180.0),
       offset_quarters=st.integers(-12 * 4, 14 * 4),
       moment=st.integers(int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()),
                          int(datetime(2040, 1, 1, tzinfo=UTC).timestamp())))
def test_any_place_any_offset_any_moment(lat: float, lon: float, offset_quarters: int,
                                         moment: int) -> None:
    # Any fixed offset from UTC-12 to UTC+14, even one that does not fit the longitude.
    tz = timezone(timedelta(minutes=15 * offset_quarters))
    check(datetime.fromtimestamp(moment, tz), lat, lon, f"({lat:.2f}, {lon:.2f})")


@pytest.mark.parametrize("bad", [datetime(2026, 1, 1, 12, 0)])
def test_naive_time_is_refused(bad: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_dark(bad, 51.5, -0.1)
