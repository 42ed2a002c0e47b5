"""Is it dark at the camera? Sunrise and sunset of the camera's local day (astral).

Night must be local: sunrise and sunset are those of the date on the camera's
own calendar (``when`` carries the configured time zone), so 17:30 in a San
Francisco June is daylight and an Auckland morning is not night. Astral is
what Home Assistant itself uses for sun times. Where the sun does not cross
the horizon that day (polar day or night), its elevation decides.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import lru_cache

from astral import Observer
from astral.sun import elevation, sunrise, sunset

HORIZON = -0.833  # degrees: the upper limb touches the horizon, with refraction


@lru_cache(maxsize=512)  # one place and day is asked about again and again
def sun_times(day: date, lat: float, lon: float, tz: tzinfo
              ) -> tuple[datetime | None, datetime | None]:
    """Sunrise and sunset on ``day`` of the calendar in ``tz`` (None where there is none)."""
    observer = Observer(latitude=lat, longitude=lon)
    times: list[datetime | None] = []
    for fn in (sunrise, sunset):
        try:
            t = fn(observer, day, tzinfo=tz)
        except ValueError:  # the sun stays above or below the horizon
            t = None
        times.append(t if t is not None and t.date() == day else None)
    return times[0], times[1]


def is_dark(when: datetime, lat: float, lon: float) -> bool:
    """True between sunset and sunrise at that place (``when`` is timezone-aware)."""
    if when.tzinfo is None:
        raise ValueError("when must be timezone-aware")
    rise, set_ = sun_times(when.date(), lat, lon, when.tzinfo)
    if rise is None or set_ is None:
        # Geometric elevation: HORIZON already allows for refraction, as sunrise does.
        return elevation(Observer(latitude=lat, longitude=lon), when,
                         with_refraction=False) < HORIZON
    if rise <= set_:
        return not rise <= when <= set_
    return set_ < when < rise
