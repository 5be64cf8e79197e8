import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import App from '../App.svelte'
import type { AccountProcedure, AnswerKey, Backend, CaseView, GeneratedPractice, IncidentSize, StepPlan, WizardStep } from '../lib/backend'
import { fakeBackend } from '../test/fakeBackend'

const hostile = '<img src=x onerror="window.pwned=1">'
const account = 'j.doe@contoso.com'
const caseId = '20260301-2215-abc123'

function step(key: string, position: string, overrides: Partial<WizardStep> = {}): WizardStep {
  return {
    id: `a1.${key}`,
    key,
    phase: key === 'triage' ? 'triage' : 'contain',
    title: `Step ${key}`,
    why: `Why ${key} comes here.`,
    effect: `What ${key} changes.`,
    savedFirst: 'The methods as they are now.',
    destructive: false,
    position,
    state: null,
    ...overrides,
  }
}

function procedure(steps: WizardStep[]): AccountProcedure[] {
  return [{ index: 1, account, steps }]
}

const doneTriage = step('triage', 'done', {
  state: { step: 'a1.triage', state: 'finished', verified: true, reason: null, since: '2026-03-01T22:30:00Z', attempts: 1 },
})

function methodsPlan(): StepPlan {
  return {
    step: 'a1.methods',
    account,
    summary: 'Remove the sign-in methods added during the incident.',
    items: [
      { id: 'method:evil', kind: 'Authenticator app', label: hostile, details: [hostile], created: '2026-03-01T21:00:00Z', recommended: true, reasons: [`Added in the incident window ${hostile}`], fixed: false, group: null },
      { id: 'method:phone', kind: 'Phone', label: '+44 7700 900123', details: [], created: '2025-01-01T00:00:00Z', recommended: false, reasons: ['Registered long before the incident'], fixed: false, group: null },
    ],
    warnings: [],
    savedFirst: ['The account\'s authentication methods'],
    windowStart: null,
    check: null,
  }
}

function caseView(): CaseView {
  return {
    id: caseId,
    folder: '/data/cases/x',
    openedAt: '2026-03-01T22:15:00Z',
    details: {
      title: 'Practice: AiTM',
      detectedAt: '2026-03-01T21:40:00Z',
      awareAt: '2026-03-01T22:00:00Z',
      alertSource: 'defenderAlert',
      indicators: [],
      affectedWorkloads: [],
      severity: 'high',
      accounts: [account],
      incidentCommander: 'Practice run',
      externalTicket: null,
    },
    tenantProfile: null,
    journal: { state: 'intact', description: 'The journal is intact.' },
    readOnly: false,
    entries: [],
    evidence: [],
    notifications: [],
    steps: [],
  }
}

/** Starts a practice through the Practice section, as the admin would; returns the step panel. */
async function startPractice(overrides: Partial<Backend>, waitFor = 'step-panel') {
  const backend = fakeBackend({
    listScenarios: async () => [{ name: 'aitm', title: 'Phished through a fake sign-in page', briefing: `A call at 23:40 ${hostile}` }],
    startPractice: async () => ({ status: 'ok', data: caseView() }),
    openCase: async () => ({ status: 'ok', data: caseView() }),
    ...overrides,
  })
  render(App, { backend })
  await fireEvent.click(screen.getByRole('button', { name: 'Practice' }))
  await fireEvent.click(await screen.findByTestId('start-practice'))
  return screen.findByTestId(waitFor)
}

describe('Containment wizard', () => {
  it('sends the plan selection exactly as the admin chose it, after the account name is typed', async () => {
    let sent: { selected: string[]; typed: string | null } | null = null
    await startPractice({
      procedureView: async () => ({ status: 'ok', data: procedure([doneTriage, step('methods', 'current', { destructive: true })]) }),
      planStep: async () => ({ status: 'ok', data: methodsPlan() }),
      runStep: async (_c, _a, _k, selected, typed, windowStart) => {
        sent = { selected, typed }
        expect(windowStart).toBeNull()
        return {
          status: 'ok',
          data: {
            state: { step: 'a1.methods', state: 'finished', verified: true, reason: null, since: '2026-03-01T22:40:00Z', attempts: 1 },
            verified: true,
            checks: [{ item: 'method:phone', ok: true, detail: 'The phone method is gone' }],
            evidence: ['evidence/0002-methods.json'],
            pass: null,
          },
        }
      },
    })
    const table = await screen.findByTestId('plan-table')
    const [evil, phone] = within(table).getAllByTestId('plan-check') as HTMLInputElement[]
    expect(evil.checked).toBe(true)
    expect(phone.checked).toBe(false)
    expect(table.textContent).toContain('Registered long before the incident')
    await fireEvent.click(evil)
    await fireEvent.click(phone)

    await fireEvent.click(screen.getByTestId('step-primary'))
    const dialog = screen.getByTestId('confirm-dialog')
    expect(document.activeElement).toBe(within(dialog).getByTestId('confirm-cancel'))
    const confirm = within(dialog).getByTestId('confirm-run') as HTMLButtonElement
    expect(confirm.disabled).toBe(true)
    await fireEvent.input(within(dialog).getByTestId('confirm-account'), { target: { value: 'someone.else@contoso.com' } })
    expect(confirm.disabled).toBe(true)
    await fireEvent.input(within(dialog).getByTestId('confirm-account'), { target: { value: ` ${account.toUpperCase()} ` } })
    expect(confirm.disabled).toBe(false)
    await fireEvent.click(confirm)

    const result = await screen.findByTestId('step-result')
    expect(sent).toEqual({ selected: ['method:phone'], typed: account.toUpperCase() })
    expect(result.textContent).toContain('The phone method is gone')
  })

  it('says "not verified" with why when a read-back could not find its target, never "verified"', async () => {
    await startPractice({
      procedureView: async () => ({ status: 'ok', data: procedure([doneTriage, step('methods', 'current')]) }),
      planStep: async () => ({ status: 'ok', data: methodsPlan() }),
      runStep: async () => ({
        status: 'ok',
        data: {
          state: { step: 'a1.methods', state: 'finished', verified: false, reason: null, since: '2026-03-01T22:40:00Z', attempts: 1 },
          verified: false,
          checks: [
            { item: 'method:phone', ok: true, detail: 'The phone method is gone' },
            { item: 'appcred:a:k', ok: false, detail: `Not verified: the app registration ${hostile} could not be found.` },
          ],
          evidence: [],
          pass: null,
        },
      }),
    })
    await fireEvent.click(await screen.findByTestId('step-primary'))
    await fireEvent.click(screen.getByTestId('confirm-run'))
    const result = await screen.findByTestId('step-result')
    expect(result.getAttribute('data-verified')).toBe('false')
    expect(within(result).getByTestId('step-result-verdict').textContent).toContain('Not verified.')
    expect(result.textContent).not.toContain('Done and verified')
    expect(result.textContent).toContain('could not be found')
    expect(result.innerHTML).not.toContain('<img')
  })

  it('sends a corrected incident window start from triage, and none when it was left as proposed', async () => {
    const sent: (string | null)[] = []
    await startPractice({
      procedureView: async () => ({ status: 'ok', data: procedure([step('triage', 'current')]) }),
      planStep: async () => ({
        status: 'ok',
        data: { ...methodsPlan(), step: 'a1.triage', items: [], windowStart: '2026-03-01T19:12:00Z' },
      }),
      runStep: async (_c, _a, _k, _s, _t, windowStart) => {
        sent.push(windowStart)
        return { status: 'error', error: { kind: 'failed', message: 'stop here' } }
      },
    })
    const input = (await screen.findByTestId('window-start')) as HTMLInputElement
    expect(new Date(input.value).toISOString()).toBe('2026-03-01T19:12:00.000Z')
    await fireEvent.click(screen.getByTestId('step-primary'))
    await fireEvent.click(screen.getByTestId('confirm-run'))
    await screen.findByTestId('step-error')
    await fireEvent.input(input, { target: { value: '2026-03-01T18:00' } })
    await fireEvent.click(screen.getByTestId('step-primary'))
    await fireEvent.click(screen.getByTestId('confirm-run'))
    await waitFor(() => expect(sent).toHaveLength(2))
    expect(sent[0]).toBeNull()
    expect(sent[1]).toBe(new Date('2026-03-01T18:00').toISOString())
  })

  it('cancelling the confirmation changes nothing', async () => {
    let runs = 0
    await startPractice({
      procedureView: async () => ({ status: 'ok', data: procedure([doneTriage, step('methods', 'current', { destructive: true })]) }),
      planStep: async () => ({ status: 'ok', data: methodsPlan() }),
      runStep: async () => {
        runs++
        return { status: 'error', error: { kind: 'failed', message: 'no' } }
      },
    })
    await screen.findByTestId('plan-table')
    await fireEvent.click(screen.getByTestId('step-primary'))
    await fireEvent.click(screen.getByTestId('confirm-cancel'))
    expect(screen.queryByTestId('confirm-dialog')).toBeNull()
    expect(runs).toBe(0)
  })

  it('renders hostile tenant strings as text and runs no script', async () => {
    await startPractice({
      procedureView: async () => ({ status: 'ok', data: procedure([doneTriage, step('methods', 'current', { destructive: true })]) }),
      planStep: async () => ({ status: 'ok', data: { ...methodsPlan(), warnings: [hostile] } }),
    })
    const table = await screen.findByTestId('plan-table')
    expect(table.textContent).toContain(hostile)
    expect(screen.getByTestId('plan-warning').textContent).toContain(hostile)
    expect(document.querySelector('img[src=x]')).toBeNull()
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined()
  })

  it('shows done, current and ahead, and a skipped step with its reason', async () => {
    await startPractice({
      procedureView: async () => ({
        status: 'ok',
        data: procedure([
          doneTriage,
          step('preserve', 'done', { state: { step: 'a1.preserve', state: 'skipped', verified: null, reason: `Already exported ${hostile}`, since: '2026-03-01T22:31:00Z', attempts: 0 } }),
          step('revoke', 'current'),
          step('disable', 'ahead'),
        ]),
      }),
      planStep: async () => ({ status: 'ok', data: { ...methodsPlan(), step: 'a1.revoke', items: [] } }),
    })
    const rail = screen.getByRole('navigation', { name: 'Response steps' })
    const items = rail.querySelectorAll('li')
    expect([...items].map((li) => li.getAttribute('data-position'))).toEqual(['done', 'done', 'current', 'ahead'])
    expect(within(rail).getByTestId('skip-reason').textContent).toBe(`Skipped: Already exported ${hostile}`)
    const ahead = items[3].querySelector('button') as HTMLButtonElement
    expect(ahead.disabled).toBe(true)
    expect(screen.getByTestId('step-panel').getAttribute('data-step')).toBe('revoke')
  })

  it('skips a step only with a reason, and sends the reason', async () => {
    let reason: string | null = null
    await startPractice({
      procedureView: async () => ({ status: 'ok', data: procedure([doneTriage, step('revoke', 'current')]) }),
      planStep: async () => ({ status: 'ok', data: { ...methodsPlan(), step: 'a1.revoke', items: [] } }),
      skipStep: async (_c, _a, _k, r) => {
        reason = r
        return { status: 'ok', data: { step: 'a1.revoke', state: 'skipped', verified: null, reason: r, since: '2026-03-01T22:35:00Z', attempts: 0 } }
      },
    })
    await screen.findByTestId('plan-summary')
    await fireEvent.click(screen.getByTestId('step-skip'))
    const skip = screen.getByTestId('skip-confirm') as HTMLButtonElement
    expect(skip.disabled).toBe(true)
    await fireEvent.input(screen.getByTestId('skip-reason-input'), { target: { value: '   ' } })
    expect(skip.disabled).toBe(true)
    await fireEvent.input(screen.getByTestId('skip-reason-input'), { target: { value: 'Sessions already revoked by the service desk' } })
    await fireEvent.click(skip)
    await waitFor(() => expect(reason).toBe('Sessions already revoked by the service desk'))
  })

  it('offers re-verification, not a blind repeat, for an interrupted step', async () => {
    let reverified = 0
    await startPractice({
      procedureView: async () => ({
        status: 'ok',
        data: procedure([doneTriage, step('disable', 'current', { state: { step: 'a1.disable', state: 'interrupted', verified: null, reason: null, since: '2026-03-01T22:35:00Z', attempts: 1 } })]),
      }),
      reverifyStep: async () => {
        reverified++
        return { status: 'ok', data: { state: { step: 'a1.disable', state: 'finished', verified: true, reason: null, since: '2026-03-01T22:36:00Z', attempts: 1 }, verified: true, checks: [], evidence: [], pass: null } }
      },
    })
    const primary = screen.getByTestId('step-primary')
    expect(primary.textContent).toContain('Re-verify')
    await fireEvent.click(primary)
    await screen.findByTestId('step-result')
    expect(reverified).toBe(1)
  })
})

describe('Practice', () => {
  it('lists scenarios with their story as text and shows the debrief score', async () => {
    await startPractice({
      procedureView: async () => ({ status: 'ok', data: procedure([doneTriage]) }),
      practiceDebrief: async () => ({
        status: 'ok',
        data: {
          tenantUrl: 'http://127.0.0.1:4100',
          attackerTotal: 7,
          attackerRemoved: 7,
          attackerRemaining: [],
          addedDuringExercise: [],
          lookAlikesTotal: 3,
          lookAlikesRemoved: [],
          attackerRegainedAccess: false,
          attackerActions: [{ at: '2026-03-01T21:05:00Z', action: 'addedInboxRule', detail: hostile }],
          answerKey: { attacker: [], legitimate: [], legitimateAddresses: [], lost: [], notes: '' },
          generated: null,
        },
      }),
    }, 'wizard-complete')
    await fireEvent.click(screen.getByTestId('show-debrief'))
    const debrief = await screen.findByTestId('debrief-verdict')
    expect(debrief.textContent).toContain('Contained')
    expect(screen.getByTestId('debrief-removed').textContent).toBe('7 of 7')
    expect(screen.getByTestId('debrief-lookalikes').textContent).toBe('0 of 3')
    expect(screen.getByTestId('attacker-log').textContent).toContain(hostile)
    expect(document.querySelector('img[src=x]')).toBeNull()
  })

  it('shows each scenario card with its briefing as text', async () => {
    render(App, {
      backend: fakeBackend({ listScenarios: async () => [{ name: 'aitm', title: 'Fake sign-in page', briefing: hostile }] }),
    })
    await fireEvent.click(screen.getByRole('button', { name: 'Practice' }))
    const card = await screen.findByText('Fake sign-in page')
    expect(card.closest('section')?.textContent).toContain(hostile)
    expect(document.querySelector('img[src=x]')).toBeNull()
  })

  it('starts a new incident of the chosen size and seed and shows the seed while practising', async () => {
    const started: [number | null, IncidentSize][] = []
    render(App, {
      backend: fakeBackend({
        startGeneratedPractice: async (seed, size) => {
          started.push([seed, size])
          return { status: 'ok', data: generatedPractice(48213, size) }
        },
        openCase: async () => ({ status: 'ok', data: caseView() }),
        procedureView: async () => ({ status: 'ok', data: procedure([step('triage', 'current')]) }),
      }),
    })
    await fireEvent.click(screen.getByRole('button', { name: 'Practice' }))
    const card = await screen.findByTestId('new-incident')
    expect((within(card).getByTestId('incident-size-small') as HTMLInputElement).checked).toBe(true)
    expect(card.textContent).toMatch(/larger/)
    expect(card.textContent).toMatch(/slowest/)
    await fireEvent.click(within(card).getByTestId('incident-size-org'))
    await fireEvent.input(within(card).getByLabelText(/Seed/), { target: { value: ' 48213 ' } })
    await fireEvent.click(within(card).getByTestId('start-generated'))
    const banner = await screen.findByTestId('generated-seed')
    expect(started).toEqual([[48213, 'org']])
    expect(banner.textContent).toContain('Generated incident, seed 48213')
    expect(banner.textContent).toContain(hostile)
    expect(document.querySelector('img[src=x]')).toBeNull()
    expect(screen.queryByText(/entry Aitm/), 'the parts are kept for the debrief').toBeNull()
  })

  it('refuses a seed that is not digits, says why and keeps the focus on the field', async () => {
    let calls = 0
    render(App, {
      backend: fakeBackend({
        startGeneratedPractice: async () => {
          calls++
          return { status: 'ok', data: generatedPractice(1, 'small') }
        },
      }),
    })
    await fireEvent.click(screen.getByRole('button', { name: 'Practice' }))
    const card = await screen.findByTestId('new-incident')
    const seed = within(card).getByLabelText(/Seed/)
    await fireEvent.input(seed, { target: { value: '12e3' } })
    await fireEvent.click(within(card).getByTestId('start-generated'))
    const error = await within(card).findByTestId('seed-error')
    expect(error.textContent).toMatch(/digits only/)
    expect(seed.getAttribute('aria-invalid')).toBe('true')
    expect(seed.getAttribute('aria-describedby')).toBe('seed-error')
    expect(document.activeElement).toBe(seed)
    expect(calls, 'nothing is started with a bad seed').toBe(0)

    await fireEvent.input(seed, { target: { value: '' } })
    await fireEvent.click(within(card).getByTestId('start-generated'))
    await screen.findByTestId('generated-seed')
    expect(calls, 'an empty seed asks for a new incident').toBe(1)
  })

  it('shows a failed start as an error and stays on the cards', async () => {
    render(App, {
      backend: fakeBackend({
        startGeneratedPractice: async () => ({ status: 'error', error: { kind: 'failed', message: 'The practice tenant could not start.' } }),
      }),
    })
    await fireEvent.click(screen.getByRole('button', { name: 'Practice' }))
    await fireEvent.click(within(await screen.findByTestId('new-incident')).getByTestId('start-generated'))
    expect((await screen.findByTestId('practice-error')).textContent).toContain('could not start')
    expect(screen.getByTestId('new-incident')).toBeTruthy()
  })

  it('lists the answer key with what was missed first, every string as text', async () => {
    const key: AnswerKey = {
      attacker: [
        { kind: 'authenticationMethod', userId: 'u1', id: 'm1', description: 'Authenticator on the attacker\'s phone', present: false },
        { kind: 'inboxRule', userId: 'u1', id: 'r1', description: hostile, present: true },
      ],
      legitimate: [
        { kind: 'inboxRule', userId: 'u2', id: 'r2', description: 'Her own rule \'Newsletters\'', present: true },
        { kind: 'servicePrincipal', userId: null, id: 'sp', description: 'Zoom, a verified app', present: false },
      ],
      legitimateAddresses: [{ address: '198.51.100.10', userId: null, description: 'the office' }],
      lost: [{ userId: 'u1', what: 'forwarded', count: 12, to: hostile, description: 'Invoices forwarded out' }],
      notes: `seed 48213 (org): entry Aitm ${hostile}`,
    }
    await startPractice({
      procedureView: async () => ({ status: 'ok', data: procedure([doneTriage]) }),
      practiceDebrief: async () => ({
        status: 'ok',
        data: {
          tenantUrl: 'http://127.0.0.1:4100',
          attackerTotal: 2,
          attackerRemoved: 1,
          attackerRemaining: [hostile],
          addedDuringExercise: [],
          lookAlikesTotal: 2,
          lookAlikesRemoved: ['Zoom, a verified app'],
          attackerRegainedAccess: false,
          attackerActions: [],
          answerKey: key,
          generated: { seed: 48213, size: 'org', summary: 'seed 48213 (org, 200 users, Entra ID P1): entry Aitm' },
        },
      }),
    }, 'wizard-complete')
    await fireEvent.click(screen.getByTestId('show-debrief'))
    const attacker = await screen.findByTestId('key-attacker')
    const attackerRows = within(attacker).getAllByRole('listitem').map((li) => li.textContent ?? '')
    expect(attackerRows[0], 'the artefact still there comes first').toContain('Still there')
    expect(attackerRows[0]).toContain(hostile)
    expect(attackerRows[1]).toContain('Removed')
    const legitimateRows = within(screen.getByTestId('key-legitimate')).getAllByRole('listitem').map((li) => li.textContent ?? '')
    expect(legitimateRows[0], 'the look-alike removed by mistake comes first').toContain('Removed by mistake')
    expect(legitimateRows[0]).toContain('Zoom')
    expect(legitimateRows[1]).toContain('Kept')
    expect(screen.getByTestId('key-addresses').textContent).toContain('198.51.100.10')
    expect(screen.getByTestId('key-lost').textContent).toContain('12 messages')
    expect(screen.getByTestId('debrief-generated').textContent).toContain('seed 48213')
    expect(screen.getByTestId('debrief-generated').textContent).toContain('entry Aitm')
    expect(document.querySelector('img[src=x]'), 'markup from the tenant is never rendered').toBeNull()
  })
})

function generatedPractice(seed: number, size: IncidentSize): GeneratedPractice {
  return { case: caseView(), seed, size, briefing: `15:00. Defender raised an alert ${hostile}` }
}
