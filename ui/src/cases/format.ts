// Formatting and labels for the case screens. Pure functions, so tests can pin every output.
import type {
  AffectedWorkload,
  AlertSource,
  ContactChannel,
  ContactRole,
  IncidentSeverity,
} from '../lib/backend'

export const severities: { id: IncidentSeverity; label: string; hint: string }[] = [
  { id: 'critical', label: 'Critical', hint: 'Data is being stolen now' },
  { id: 'high', label: 'High', hint: 'An account is compromised' },
  { id: 'medium', label: 'Medium', hint: 'Suspicious, not confirmed' },
]

export const alertSources: { id: AlertSource; label: string }[] = [
  { id: 'defenderAlert', label: 'Defender or Entra alert' },
  { id: 'userReport', label: 'A user reported it' },
  { id: 'financeOrVendorCall', label: 'Finance or a vendor called' },
  { id: 'auditReview', label: 'Audit or sign-in review' },
]

export const workloads: { id: AffectedWorkload; label: string }[] = [
  { id: 'entraId', label: 'Entra ID (sign-ins, apps)' },
  { id: 'exchangeOnline', label: 'Exchange Online (mail)' },
  { id: 'sharePointOneDrive', label: 'SharePoint and OneDrive (files)' },
  { id: 'teams', label: 'Teams' },
  { id: 'other', label: 'Other' },
]

export const roles: { id: ContactRole; label: string }[] = [
  { id: 'user', label: 'The affected user' },
  { id: 'manager', label: 'Their manager' },
  { id: 'securityLead', label: 'Security lead' },
  { id: 'privacyLead', label: 'Privacy lead / DPO' },
  { id: 'finance', label: 'Finance' },
  { id: 'authority', label: 'CSIRT / authority (NIS2)' },
  { id: 'other', label: 'Someone else' },
]

export const channels: { id: ContactChannel; label: string }[] = [
  { id: 'phone', label: 'Phone call' },
  { id: 'inPerson', label: 'In person' },
  { id: 'sms', label: 'Text message' },
  { id: 'personalEmail', label: 'Personal email' },
  { id: 'workEmail', label: 'Work email' },
  { id: 'teams', label: 'Teams' },
  { id: 'other', label: 'Other' },
]

export function label<T extends string>(list: { id: T; label: string }[], id: T): string {
  return list.find((item) => item.id === id)?.label ?? id
}

/** A `datetime-local` input value (local time, minutes) for `date`. */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  )
}

/** An RFC 3339 UTC time from a `datetime-local` value, or null when it is not a time. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? null : date.toISOString()
}

/** A time as the admin reads it: local date and time to the minute. */
export function formatTime(iso: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return date.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  })
}

/** "3 d 4 h", "2 h 05 min", "7 min" — how long between two instants. */
export function formatSpan(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000))
  const days = Math.floor(minutes / 1440)
  const hours = Math.floor((minutes % 1440) / 60)
  const mins = minutes % 60
  if (days > 0) return `${days} d ${hours} h`
  if (hours > 0) return `${hours} h ${String(mins).padStart(2, '0')} min`
  return `${mins} min`
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** A fresh id for a cancellable operation. */
export function operationId(prefix: string): string {
  const random =
    typeof crypto !== 'undefined' && 'randomUUID' in crypto
      ? crypto.randomUUID()
      : `${Date.now()}-${Math.random().toString(16).slice(2)}`
  return `${prefix}-${random}`.slice(0, 64)
}

/** The channels that go through the tenant the attacker is in. */
export function isTenantChannel(channel: ContactChannel): boolean {
  return channel === 'workEmail' || channel === 'teams'
}
