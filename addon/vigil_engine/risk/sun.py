"""Sunrise and sunset without network or extra packages (NOAA's approximation).

Accurate to a couple of minutes, which is plenty for "is it dark outside".
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta


def _sun_times(day: date, lat: float, lon: float) -> tuple[datetime | None, datetime | None]:
    n = day.timetuple().tm_yday
    gamma = 2 * math.pi / 365 * (n - 1)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
                       - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma))
    decl = (0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma)
            - 0.006758 * math.cos(2 * gamma) + 0.000907 * math.sin(2 * gamma)
            - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma))
    lat_r = math.radians(lat)
    cos_ha = (math.cos(math.radians(90.833)) / (math.cos(lat_r) * math.cos(decl))
              - math.tan(lat_r) * math.tan(decl))
    if cos_ha > 1 or cos_ha < -1:
        return None, None  # polar night or midnight sun
    ha = math.degrees(math.acos(cos_ha))
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    sunrise = midnight + timedelta(minutes=720 - 4 * (lon + ha) - eqtime)
    sunset = midnight + timedelta(minutes=720 - 4 * (lon - ha) - eqtime)
    return sunrise, sunset


def is_dark(when: datetime, lat: float, lon: float) -> bool:
    """True between sunset and sunrise at that place (``when`` is timezone-aware)."""
    utc = when.astimezone(UTC)
    sunrise, sunset = _sun_times(utc.date(), lat, lon)
    if sunrise is None or sunset is None:
        # Polar day/night: dark if the sun is below the horizon at noon (winter).
        decl_winter = utc.month in (11, 12, 1) if lat > 0 else utc.month in (5, 6, 7)
        return decl_winter
    if sunrise <= sunset:
        return not sunrise <= utc <= sunset
    return sunset < utc < sunrise
