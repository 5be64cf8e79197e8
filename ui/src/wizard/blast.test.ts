import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { describe, expect, it } from 'vitest'
import App from '../App.svelte'
import type {
  AccountProcedure,
  Backend,
  BlastCheck,
  CaseView,
  CheckProgress,
  ChecksRun,
  Outcome,
  RecoveryStatus,
  StepPlan,
  WizardStep,
} from '../lib/backend'
import { fakeBackend } from '../test/fakeBackend'

const hostile = '<img src=x onerror="window.pwned=1">'
const account = 'j.doe@contoso.com'
const caseId = '20260301-2215-abc123'

function step(key: string, phase: string, position: string, overrides: Partial<WizardStep> = {}): WizardStep {
  return {
    id: `a1.${key}`,
    key,
    phase,
    title: `Step ${key}`,
    why: `Why ${key}.`,
    effect: `What ${key} changes.`,
    savedFirst: 'Something.',
    destructive: false,
    position,
    state: null,
    ...overrides,
  }
}

const finished = (key: string) => ({ step: `a1.${key}`, state: 'finished', verified: true, reason: null, since: '2026-03-01T22:30:00Z', attempts: 1 })

function procedure(blastPosition: string, recover: WizardStep[] = []): AccountProcedure[] {
  return [{
    index: 1,
    account,
    steps: [
      step('triage', 'triage', 'done', { state: finished('triage') }),
      step('revoke', 'contain', 'done', { state: finished('revoke') }),
      step('blast-sign-ins', 'blast', blastPosition, { title: 'Interactive sign-ins' }),
      step('blast-flows', 'blast', blastPosition, { title: 'Power Automate flows (by hand)' }),
      step('blast-app-credentials', 'blast', blastPosition, { title: 'Credentials added to apps', destructive: true }),
      step('sweep', 'blast', blastPosition, { title: 'Look sideways: other accounts' }),
      ...recover,
    ],
  }]
}

function check(key: string, status: string, overrides: Partial<BlastCheck> = {}): BlastCheck {
  return { key, title: `Title ${key}`, status, reason: null, findings: 0, note: null, foundByHand: null, at: null, ...overrides }
}

function openChecks(): BlastCheck[] {
  return [
    check('blast-sign-ins', 'open', { title: 'Interactive sign-ins' }),
    check('blast-flows', 'open', { title: 'Power Automate flows (by hand)' }),
    check('blast-app-credentials', 'open', { title: 'Credentials added to apps' }),
  ]
}

function recovery(overrides: Partial<RecoveryStatus> = {}): RecoveryStatus {
  return {
    accounts: [{ index: 1, account, gateOpen: false, blockers: ['Blast-radius check "Power Apps" is still open.'], openChecks: ['Power Apps'], sweepHits: [] }],
    watch: [],
    alerts: [],
    lastChecked: null,
    links: [],
    closed: null,
    ...overrides,
  }
}

function caseView(): CaseView {
  return {
    id: caseId,
    folder: '/data/cases/x',
    openedAt: '2026-03-01T22:15:00Z',
    details: {
      title: 'Practice: AiTM', detectedAt: '2026-03-01T21:40:00Z', awareAt: '2026-03-01T22:00:00Z', alertSource: 'defenderAlert',
      indicators: [], affectedWorkloads: [], severity: 'high', accounts: [account], incidentCommander: 'Practice run', externalTicket: null,
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

function basePlan(overrides: Partial<StepPlan> = {}): StepPlan {
  return { step: 'a1.x', account, summary: 'Summary', items: [], warnings: [], savedFirst: [], windowStart: null, check: null, ...overrides }
}

async function start(overrides: Partial<Backend>, waitFor = 'blast-checks') {
  const backend = fakeBackend({
    listScenarios: async () => [{ name: 'aitm', title: 'AiTM', briefing: 'Brief' }],
    startPractice: async () => ({ status: 'ok', data: caseView() }),
    openCase: async () => ({ status: 'ok', data: caseView() }),
    procedureView: async () => ({ status: 'ok', data: procedure('current') }),
    blastChecks: async () => ({ status: 'ok', data: openChecks() }),
    recoveryStatus: async () => ({ status: 'ok', data: recovery() }),
    ...overrides,
  })
  render(App, { backend })
  await fireEvent.click(screen.getByRole('button', { name: 'Practice' }))
  await fireEvent.click(await screen.findByTestId('start-practice'))
  return screen.findByTestId(waitFor)
}

describe('Blast-radius checks', () => {
  it('opens on the list once containment is done, with a status chip per check and one primary action', async () => {
    const list = await start({})
    const rows = await within(list).findAllByTestId('check-row')
    expect(rows.map((r) => r.getAttribute('data-check'))).toEqual(['blast-sign-ins', 'blast-flows', 'blast-app-credentials', 'sweep'])
    expect(within(list).getByTestId('blast-count').textContent).toBe('0 of 4 done · 4 open')
    expect(list.querySelectorAll('button.primary')).toHaveLength(1)
    expect(within(list).getByTestId('run-all-checks')).toBeTruthy()
    expect(screen.getByTestId('blast-entry').getAttribute('aria-current')).toBe('step')
  })

  it('runs all checks with per-check progress, can be cancelled, and shows the result', async () => {
    let progress: (p: CheckProgress) => void = () => {}
    let finish: (r: Outcome<ChecksRun>) => void = () => {}
    const cancelled: string[] = []
    let operation = ''
    const list = await start({
      runChecks: (_c, _a, id, onProgress) => {
        operation = id
        progress = onProgress
        return new Promise((resolve) => (finish = resolve))
      },
      cancelOperation: async (id) => {
        cancelled.push(id)
        return true
      },
    })
    await fireEvent.click(await within(list).findByTestId('run-all-checks'))
    const p = (key: string, state: string, status: string | null, done: number, findings = 0): CheckProgress => ({ key, state, status, findings, message: null, done, total: 3 })
    progress(p('blast-sign-ins', 'started', null, 0))
    progress(p('blast-app-credentials', 'planned', 'finding', 1, 2))
    await waitFor(() => expect(within(list).getByTestId('checks-progress').textContent).toContain('Checking 1 of 3'))
    const chip = (key: string) => list.querySelector(`[data-check=${key}] [data-testid=check-chip]`)?.textContent
    expect(chip('blast-sign-ins')).toBe('Checking…')
    expect(chip('blast-app-credentials')).toContain('Finding (2)')
    expect(list.querySelector('[data-check=blast-app-credentials] [data-testid=open-check]')?.textContent).toContain('Review and fix')

    await fireEvent.click(within(list).getByTestId('cancel-checks'))
    expect(cancelled).toEqual([operation])
    expect(within(list).getByTestId('checks-progress').textContent).toContain('Stopping')
    finish({
      status: 'ok',
      data: {
        cancelled: true,
        runs: [{ key: 'blast-sign-ins', planned: 'clean', findings: 0, recorded: true, error: null }],
        checks: [check('blast-sign-ins', 'clean', { reason: 'Nothing found in the incident window.', at: '2026-03-01T22:40:00Z' }), ...openChecks().slice(1)],
      },
    })
    const summary = await within(list).findByTestId('checks-summary')
    expect(summary.textContent).toContain('Cancelled. 1 result recorded')
    expect(list.querySelector('[data-check=blast-sign-ins]')?.getAttribute('data-status')).toBe('clean')
    expect(within(list).getByTestId('run-all-checks')).toBeTruthy()
  })

  it('records a manual check by hand with the portal location, requiring a note when something was found', async () => {
    let sent: { selected: string[]; note: string | null | undefined } | null = null
    const plan = basePlan({
      step: 'a1.blast-flows',
      summary: 'Check the flows by hand.',
      check: { status: 'manual', reason: 'Flows that forward mail.', findings: 0, portal: `Power Platform admin center ${hostile}` },
      items: [
        { id: 'answer:nothing', kind: 'Your answer', label: 'Nothing found', details: [], created: null, recommended: false, reasons: [], fixed: false, group: 'What did you find?' },
        { id: 'answer:found', kind: 'Your answer', label: 'Found something', details: [], created: null, recommended: false, reasons: [], fixed: false, group: 'What did you find?' },
      ],
    })
    const list = await start({
      planStep: async (_c, _a, key) => {
        expect(key).toBe('blast-flows')
        return { status: 'ok', data: plan }
      },
      runStep: async (_c, _a, _k, selected, _t, _w, note) => {
        sent = { selected, note }
        return { status: 'error', error: { kind: 'failed', message: 'stop here' } }
      },
    })
    await fireEvent.click((await within(list).findAllByTestId('open-check'))[1])
    const panel = await screen.findByTestId('step-panel')
    expect(within(panel).getByTestId('manual-portal').textContent).toContain(hostile)
    expect(document.querySelector('img[src=x]')).toBeNull()
    const [nothing, found] = within(panel).getAllByTestId('plan-choice') as HTMLInputElement[]
    expect(nothing.checked || found.checked).toBe(false)
    const primary = within(panel).getByTestId('step-primary') as HTMLButtonElement
    expect(primary.disabled, 'an answer is required').toBe(true)
    await fireEvent.click(found)
    await fireEvent.change(found)
    expect(primary.disabled, 'a finding needs the note').toBe(true)
    await fireEvent.input(within(panel).getByTestId('step-note'), { target: { value: 'Flow "Sync" forwards invoices to gmail' } })
    expect(primary.disabled).toBe(false)
    await fireEvent.click(primary)
    await fireEvent.click(screen.getByTestId('confirm-run'))
    await waitFor(() => expect(sent).not.toBeNull())
    expect(sent).toEqual({ selected: ['answer:found'], note: 'Flow "Sync" forwards invoices to gmail' })
    await fireEvent.click(within(panel).getByTestId('step-back'))
    expect(await screen.findByTestId('blast-checks')).toBeTruthy()
  })

  it('shows a check with findings through the usual plan and typed confirmation', async () => {
    const list = await start({
      planStep: async () => ({
        status: 'ok',
        data: basePlan({
          step: 'a1.blast-app-credentials',
          check: { status: 'finding', reason: '1 finding in the incident window.', findings: 1, portal: null },
          items: [{ id: 'sp:1', kind: 'App', label: hostile, details: [], created: null, recommended: true, reasons: ['Secret added by the account'], fixed: false, group: null }],
        }),
      }),
    })
    await fireEvent.click((await within(list).findAllByTestId('open-check'))[2])
    const panel = await screen.findByTestId('step-panel')
    expect(within(panel).getByTestId('check-status').getAttribute('data-status')).toBe('finding')
    expect(within(panel).getByTestId('plan-table').textContent).toContain(hostile)
    await fireEvent.click(within(panel).getByTestId('step-primary'))
    expect(screen.getByTestId('confirm-account')).toBeTruthy()
    expect(document.activeElement).toBe(screen.getByTestId('confirm-cancel'))
  })

  it('lists sideways-sweep hits and opens one as a linked case', async () => {
    let opened: string | null = null
    const list = await start({
      recoveryStatus: async () => ({
        status: 'ok',
        data: recovery({ accounts: [{ index: 1, account, gateOpen: false, blockers: [], openChecks: [], sweepHits: [
          { account: 'a.other@contoso.com', userId: null, signals: [`Signed in from 203.0.113.7 ${hostile}`], inCase: false },
          { account, userId: null, signals: ['x'], inCase: true },
        ] }] }),
      }),
      openLinkedCase: async (_c, _a, hit) => {
        opened = hit
        return { status: 'ok', data: { ...caseView(), id: '20260301-2300-def456' } }
      },
    })
    const hits = await within(list).findByTestId('sweep-hits')
    expect(hits.textContent).toContain(hostile)
    expect(within(hits).getAllByTestId('open-linked-case')).toHaveLength(1)
    await fireEvent.click(within(hits).getByTestId('open-linked-case'))
    await waitFor(() => expect(opened).toBe('a.other@contoso.com'))
  })
})

describe('Recovery and watch', () => {
  const recoverSteps = [step('enable', 'recover', 'current', { title: 'Re-enable the account', destructive: true }), step('tap', 'recover', 'ahead')]

  it('shows what still holds the gate beside the recovery step', async () => {
    await start({
      procedureView: async () => ({ status: 'ok', data: procedure('done', recoverSteps) }),
      planStep: async () => ({ status: 'ok', data: basePlan({ summary: 'Allow sign-in again.' }) }),
    }, 'recovery-panel')
    const gate = await screen.findByTestId('gate-state')
    expect(gate.getAttribute('data-open')).toBe('false')
    expect(gate.textContent).toContain('Power Apps')
    expect(screen.getByTestId('step-panel').getAttribute('data-step')).toBe('enable')
  })

  it('shows watch alerts as text and re-checks on request', async () => {
    let status = recovery({
      accounts: [{ index: 1, account, gateOpen: true, blockers: [], openChecks: [], sweepHits: [] }],
      watch: [{ account, from: '2026-03-02T00:00:00Z', until: '2026-03-05T00:00:00Z', active: true, attackerAddresses: ['203.0.113.7'] }],
    })
    await start({
      procedureView: async () => ({ status: 'ok', data: procedure('done', [step('enable', 'recover', 'done', { state: finished('enable') }), step('watch', 'recover', 'current')]) }),
      planStep: async () => ({ status: 'ok', data: basePlan() }),
      recoveryStatus: async () => ({ status: 'ok', data: status }),
      recheckWatch: async () => {
        const alert = { account, kind: 'inboxRule', key: 'rule:1', title: `New inbox rule ${hostile}`, detail: 'Moves mail to RSS', at: null, observedAt: '2026-03-02T01:00:00Z' }
        status = { ...status, alerts: [alert] }
        return { status: 'ok', data: { newAlerts: [alert], gaps: [], activeWindows: 1, checkedAt: '2026-03-02T01:00:00Z' } }
      },
    }, 'recovery-panel')
    expect((await screen.findByTestId('watch-window')).getAttribute('data-active')).toBe('true')
    expect(screen.getByTestId('gate-state').getAttribute('data-open')).toBe('true')
    expect(screen.queryByTestId('watch-alerts')).toBeNull()
    await fireEvent.click(screen.getByTestId('recheck-watch'))
    expect((await screen.findByTestId('recheck-result')).textContent).toContain('1 new alert')
    const alert = await screen.findByTestId('watch-alert')
    expect(alert.textContent).toContain(hostile)
    expect(document.querySelector('img[src=x]')).toBeNull()
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined()
  })
})

describe('A done step', () => {
  it('can be run again from a fresh plan when the attacker came back', async () => {
    let planned = 0
    await start({
      procedureView: async () => ({ status: 'ok', data: procedure('done', [step('watch', 'recover', 'current')]) }),
      planStep: async (_c, _a, key) => {
        if (key === 'revoke') planned++
        return { status: 'ok', data: basePlan({ summary: `Plan for ${key}` }) }
      },
    }, 'recovery-panel')
    await fireEvent.click(screen.getByRole('button', { name: /Step revoke/ }))
    const panel = await screen.findByTestId('step-panel')
    expect(within(panel).getByTestId('step-done').textContent).toContain('Finished and verified')
    expect(planned, 'a done step reads nothing until asked').toBe(0)
    await fireEvent.click(within(panel).getByTestId('step-again'))
    expect((await within(panel).findByTestId('plan-summary')).textContent).toBe('Plan for revoke')
    expect(planned).toBe(1)
  })
})

describe('Cases home', () => {
  it('flags a case whose watch raised alerts', async () => {
    const summary = { id: caseId, title: 'Phished', severity: 'high' as const, accounts: [account], openedAt: '2026-03-01T22:15:00Z', detectedAt: '2026-03-01T21:40:00Z', awareAt: '2026-03-01T22:00:00Z', journal: { state: 'intact' as const, description: '' }, interruptedSteps: 0 }
    const alert = { account, kind: 'signIn', key: 's1', title: 'Sign-in', detail: 'd', at: null, observedAt: '2026-03-02T01:00:00Z' }
    render(App, {
      backend: fakeBackend({
        listCases: async () => ({ status: 'ok', data: [summary, { ...summary, id: '20260301-2215-quiet1', title: 'Quiet' }] }),
        recoveryStatus: async (id) => ({ status: 'ok', data: recovery({ alerts: id === caseId ? [alert, alert] : [] }) }),
      }),
    })
    const flag = await screen.findByTestId('case-watch-alerts')
    expect(flag.textContent).toBe('2 watch alerts')
    expect(flag.closest('[data-case-id]')?.getAttribute('data-case-id')).toBe(caseId)
    expect(screen.getAllByTestId('case-watch-alerts')).toHaveLength(1)
  })
})
