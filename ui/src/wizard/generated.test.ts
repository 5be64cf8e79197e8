import { describe, expect, it } from 'vitest'
import type { KeyArtefact } from '../lib/backend'
import { MAX_SEED, kindLabel, missedFirst, parseSeed } from './generated'

describe('the seed field', () => {
  it('reads digits, ignores spaces around them and takes an empty field as "choose one"', () => {
    expect(parseSeed(' 48213 ')).toEqual({ ok: true, value: 48213 })
    expect(parseSeed('0')).toEqual({ ok: true, value: 0 })
    expect(parseSeed('')).toEqual({ ok: true, value: null })
    expect(parseSeed(String(MAX_SEED))).toEqual({ ok: true, value: MAX_SEED })
  })

  it('refuses anything but digits, and seeds too large for the command, saying why', () => {
    for (const text of ['-1', '1.5', '12e3', '0x10', '12 34', 'seven']) {
      const seed = parseSeed(text)
      expect(seed.ok, text).toBe(false)
      if (!seed.ok) expect(seed.error).toMatch(/digits only/)
    }
    const large = parseSeed(String(MAX_SEED + 1))
    expect(large.ok).toBe(false)
    if (!large.ok) expect(large.error).toMatch(/at most/)
  })
})

describe('the answer key', () => {
  const item = (id: string, present: boolean): KeyArtefact => ({ kind: 'inboxRule', userId: null, id, description: id, present })

  it('puts missed items first and otherwise keeps the key\'s order', () => {
    const items = [item('a', false), item('b', true), item('c', false), item('d', true)]
    expect(missedFirst(items, (i) => i.present).map((i) => i.id)).toEqual(['b', 'd', 'a', 'c'])
    expect(missedFirst(items, (i) => !i.present).map((i) => i.id)).toEqual(['a', 'c', 'b', 'd'])
  })

  it('names known kinds in words and shows unknown ones as they are', () => {
    expect(kindLabel('oauth2PermissionGrant')).toBe('App consent')
    expect(kindLabel('directoryRoleMembership')).toBe('Directory role')
    expect(kindLabel('somethingNew')).toBe('somethingNew')
  })
})
