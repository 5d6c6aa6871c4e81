export { profile, recordFunction, isProfiling, type ProfileOptions, type ProfileResult } from './profile'
export type { ProfileRow, ProfileTotals, TableOptions } from './summary'
export type { ProfileEvent, SpanKind, Pass } from './recorder'
export { chromeTrace, type TraceEvent } from './trace'
