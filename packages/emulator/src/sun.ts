import SunCalc from 'suncalc'

export interface Location {
  /** Degrees, north positive. */
  lat: number
  /** Degrees, east positive. */
  lon: number
}

/** Nairobi: a sensible default for a solar-lantern community when no hub location is given. */
export const DEFAULT_LOCATION: Location = { lat: -1.2864, lon: 36.8172 }

/**
 * Clear-sky irradiance on a flat panel relative to its peak (0..1): sin(sun altitude), 0 below
 * the horizon. Good enough for a daily shape; air mass and panel tilt are left out on purpose.
 */
export function clearSkyFactor (loc: Location, tMs: number): number {
  const { altitude } = SunCalc.getPosition(new Date(tMs), loc.lat, loc.lon)
  return altitude > 0 ? Math.sin(altitude) : 0
}

/** Local solar time in hours [0, 24) from longitude alone (no equation of time: this is a habit clock). */
export function solarHour (loc: Location, tMs: number): number {
  const h = (tMs / 3_600_000 + loc.lon / 15) % 24
  return h < 0 ? h + 24 : h
}

/** Index of the local solar day containing tMs (changes at local solar midnight). */
export function solarDay (loc: Location, tMs: number): number {
  return Math.floor((tMs + loc.lon / 15 * 3_600_000) / 86_400_000)
}

/**
 * Sunset (unix ms) of local solar day `day`. Where the sun does not set that day (polar summer or
 * night) it falls back to 18:00 local solar time, so lights still follow a daily habit.
 */
export function sunsetMs (loc: Location, day: number): number {
  const noon = day * 86_400_000 + (12 - loc.lon / 15) * 3_600_000
  const t = SunCalc.getTimes(new Date(noon), loc.lat, loc.lon).sunset.getTime()
  return Number.isFinite(t) ? t : noon + 6 * 3_600_000
}
