// Generated incidents in the Practice section: reading the seed the admin types, naming sizes,
// and putting the answer key's missed items first for the debrief.
import type { IncidentSize, KeyArtefact } from '../lib/backend'

/** The largest seed the app takes (the command's seed is a 32-bit number). */
export const MAX_SEED = 4_294_967_295

/** A seed as typed: empty means "choose one for me". */
export type SeedInput = { ok: true; value: number | null } | { ok: false; error: string }

/** Reads the seed field: digits only, at most `MAX_SEED`; spaces around it are ignored. */
export function parseSeed(text: string): SeedInput {
  const trimmed = text.trim()
  if (trimmed === '') return { ok: true, value: null }
  if (!/^[0-9]+$/.test(trimmed)) {
    return { ok: false, error: 'A seed is a whole number written with digits only, such as 48213. Leave it empty for a new incident.' }
  }
  const value = Number(trimmed)
  if (value > MAX_SEED) {
    return { ok: false, error: `A seed is at most ${MAX_SEED.toLocaleString('en-GB')}. Check the number you wrote down.` }
  }
  return { ok: true, value }
}

/** A size as the admin reads it. */
export function sizeLabel(size: IncidentSize): string {
  switch (size) {
    case 'small':
      return 'Small'
    case 'org':
      return 'Organisation'
    case 'large':
      return 'Large'
  }
}

/** What kind of object an answer-key artefact is, in words. */
export function kindLabel(kind: string): string {
  const known: Record<string, string> = {
    authenticationMethod: 'Sign-in method',
    inboxRule: 'Inbox rule',
    mailboxForwarding: 'Mail forwarding',
    mailboxPermission: 'Mailbox permission',
    recipientPermission: 'Send-as permission',
    sendOnBehalf: 'Send on behalf',
    oauth2PermissionGrant: 'App consent',
    servicePrincipal: 'Enterprise app',
    user: 'Account',
    applicationCredential: 'App credential',
    directoryRoleMembership: 'Directory role',
  }
  return known[kind] ?? kind
}

/**
 * The attacker's artefacts with those still in the tenant first, or the look-alikes with those
 * removed by mistake first; otherwise in the answer key's order.
 */
export function missedFirst(items: KeyArtefact[], missed: (item: KeyArtefact) => boolean): KeyArtefact[] {
  return [...items.filter(missed), ...items.filter((i) => !missed(i))]
}
