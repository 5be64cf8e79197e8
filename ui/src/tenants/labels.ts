// How tenant settings are named in the UI. The names follow the Entra admin center's wording so the
// admin finds the same words on both screens.
import type { AuthMethod, FindingStatus, TenantCloud } from '../lib/backend'

export const clouds: { value: TenantCloud; label: string }[] = [
  { value: 'worldwide', label: 'Worldwide' },
  { value: 'usGovGccHigh', label: 'US Government GCC High' },
  { value: 'usGovDod', label: 'US Government DoD' },
  { value: 'china', label: 'China (operated by 21Vianet)' },
]

export function cloudName(cloud: TenantCloud): string {
  return clouds.find((c) => c.value === cloud)?.label ?? cloud
}

export const methods: { value: AuthMethod; label: string; hint: string }[] = [
  {
    value: 'certificate',
    label: 'Certificate',
    hint: 'App-only, recommended. Firebreak makes the key pair; the private key stays in the OS keychain.',
  },
  {
    value: 'clientSecret',
    label: 'Client secret',
    hint: 'App-only. The secret is stored in the OS keychain and never shown again.',
  },
  {
    value: 'deviceCode',
    label: 'Device code (delegated)',
    hint: 'The break-glass admin signs in on any browser. Tokens are kept in memory until Firebreak closes.',
  },
]

export function methodName(method: AuthMethod): string {
  return methods.find((m) => m.value === method)?.label ?? method
}

export const statusNames: Record<FindingStatus, string> = {
  pass: 'Pass',
  gap: 'Gap',
  cannotTell: 'Cannot tell',
  info: 'Info',
}

/** A mark beside each verdict, so it does not rest on colour alone. */
export const statusMarks: Record<FindingStatus, string> = {
  pass: '✓',
  gap: '✗',
  cannotTell: '?',
  info: 'i',
}
