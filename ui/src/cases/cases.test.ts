import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { describe, expect, it, vi } from 'vitest'
import App from '../App.svelte'
import type {
  Backend,
  BundleVerification,
  CaseNotification,
  CaseSummary,
  CaseView,
  CaseDetailsInput,
  NotificationInput,
  OnProgress,
} from '../lib/backend'
import { fakeBackend, trainingProfile } from '../test/fakeBackend'
import { formatSpan, fromLocalInput, toLocalInput } from './format'

const hostile = '<img src=x onerror="window.pwned=1">'

function summary(overrides: Partial<CaseSummary> = {}): CaseSummary {
  return {
    id: '20260301-2215-abc123',
    title: 'Invoice fraud — j.doe',
    severity: 'high',
    accounts: ['j.doe@contoso.com'],
    openedAt: '2026-03-01T22:15:00Z',
    detectedAt: '2026-03-01T21:40:00Z',
    awareAt: '2026-03-01T22:00:00Z',
    journal: { state: 'intact', description: 'intact' },
    interruptedSteps: 0,
    ...overrides,
  }
}

function caseView(overrides: Partial<CaseView> = {}): CaseView {
  return {
    id: '20260301-2215-abc123',
    folder: '/data/cases/20260301-2215-abc123',
    openedAt: '2026-03-01T22:15:00Z',
    details: {
      title: 'Invoice fraud — j.doe',
      detectedAt: '2026-03-01T21:40:00Z',
      awareAt: '2026-03-01T22:00:00Z',
      alertSource: 'financeOrVendorCall',
      indicators: ['Vendor asked for new bank details'],
      affectedWorkloads: ['exchangeOnline'],
      severity: 'critical',
      accounts: ['j.doe@contoso.com'],
      incidentCommander: 'Sam Okafor',
      externalTicket: 'INC-2041',
    },
    tenantProfile: null,
    journal: { state: 'intact', description: 'The journal is intact.' },
    readOnly: false,
    entries: [
      {
        seq: 1,
        time: '2026-03-01T22:15:00Z',
        actor: 'admin',
        kind: 'case_opened',
        step: null,
        summary: 'Incident declared: severity critical, 1 account(s) concerned',
        details: '{}',
        hash: 'a'.repeat(64),
      },
      {
        seq: 2,
        time: '2026-03-01T22:20:00Z',
        actor: 'admin',
        kind: 'evidence_added',
        step: null,
        summary: `Evidence saved: ${hostile}`,
        details: `{"file": "${hostile}"}`,
        hash: 'b'.repeat(64),
      },
    ],
    evidence: [
      {
        file: 'evidence/0001-inbox_rules.json',
        size: 2048,
        sha256: 'c'.repeat(64),
        description: hostile,
        sourceOperation: 'GET /users/{id}/mailFolders/inbox/messageRules',
        capturedAt: '2026-03-01T22:20:00Z',
      },
    ],
    notifications: [],
    steps: [],
    ...overrides,
  }
}

/** Mounts the app and opens the case from the list. */
async function openCase(backend: Backend, now = () => new Date('2026-03-02T00:15:00Z')) {
  render(App, { backend, now })
  await fireEvent.click(await screen.findByText('Invoice fraud — j.doe'))
  return screen.findByTestId('case-header')
}

describe('Cases home', () => {
  it('lists the cases with severity and accounts, and says so when there are none', async () => {
    render(App, { backend: fakeBackend({ listCases: async () => ({ status: 'ok', data: [summary()] }) }) })
    const list = await screen.findByTestId('case-list')
    expect(list.textContent).toContain('Invoice fraud — j.doe')
    expect(list.textContent).toContain('j.doe@contoso.com')
    expect(list.textContent).toContain('High')
  })

  it('says so when there are no cases', async () => {
    render(App, { backend: fakeBackend() })
    expect((await screen.findByTestId('no-cases')).textContent).toContain('No cases yet')
  })

  it('flags a case whose journal needs attention or whose steps were interrupted', async () => {
    const damaged = summary({ journal: { state: 'tornTail', description: 'torn' }, interruptedSteps: 2 })
    render(App, { backend: fakeBackend({ listCases: async () => ({ status: 'ok', data: [damaged] }) }) })
    const list = await screen.findByTestId('case-list')
    expect(list.textContent).toContain('Journal needs attention')
    expect(list.textContent).toContain('2 interrupted step(s)')
  })
})

describe('Declare an incident', () => {
  it('refuses an incomplete form with clear messages and sends nothing', async () => {
    const declareIncident = vi.fn()
    render(App, { backend: fakeBackend({ declareIncident }) })
    await fireEvent.click(await screen.findByTestId('declare-incident'))
    await fireEvent.click(screen.getByTestId('declare-submit'))
    expect(screen.getByText('Give the case a short name.')).toBeTruthy()
    expect(screen.getByText(/Name at least one account/)).toBeTruthy()
    expect(screen.getByText('Name who leads the response.')).toBeTruthy()
    expect(declareIncident).not.toHaveBeenCalled()
  })

  it('sends the details with UTC times and opens the new case', async () => {
    let sent: CaseDetailsInput | null = null
    const backend = fakeBackend({
      declareIncident: async (details) => {
        sent = details
        return { status: 'ok', data: caseView() }
      },
      openCase: async () => ({ status: 'ok', data: caseView() }),
    })
    render(App, { backend })
    await fireEvent.click(await screen.findByTestId('declare-incident'))
    const form = screen.getByTestId('declare-form')
    const field = (name: string) => form.querySelector(`[name=${name}]`) as HTMLInputElement
    await fireEvent.input(field('title'), { target: { value: 'Invoice fraud' } })
    await fireEvent.input(field('accounts'), { target: { value: 'j.doe@contoso.com\n\n a.b@contoso.com ' } })
    await fireEvent.input(field('detectedAt'), { target: { value: '2026-03-01T21:40' } })
    await fireEvent.input(field('commander'), { target: { value: 'Sam' } })
    await fireEvent.click(within(form).getByLabelText(/Critical/))
    await fireEvent.click(within(form).getByLabelText(/Teams/))
    await fireEvent.click(screen.getByTestId('declare-submit'))

    await screen.findByTestId('case-header')
    expect(sent).not.toBeNull()
    const details = sent as unknown as CaseDetailsInput
    expect(details.accounts).toEqual(['j.doe@contoso.com', 'a.b@contoso.com'])
    expect(details.severity).toBe('critical')
    expect(details.affectedWorkloads).toEqual(['teams'])
    expect(details.detectedAt).toBe(new Date('2026-03-01T21:40').toISOString())
    expect(details.externalTicket).toBeNull()
  })

  it('offers the tenant profiles, starts on the default one, labels the training tenant and sends the choice', async () => {
    const contoso = '1b4e28ba-2fa1-11d2-883f-0016d3cca427'
    const sent: string[] = []
    const backend = fakeBackend({
      listProfiles: async () => ({
        status: 'ok',
        data: {
          profiles: [trainingProfile(), { ...trainingProfile(), id: contoso, displayName: 'Contoso', builtIn: false }],
          defaultId: contoso,
        },
      }),
      declareIncident: async (_details, tenantProfile) => {
        sent.push(tenantProfile)
        return { status: 'ok', data: caseView({ tenantProfile }) }
      },
      openCase: async () => ({ status: 'ok', data: caseView({ tenantProfile: 'training' }) }),
    })
    render(App, { backend })
    await fireEvent.click(await screen.findByTestId('declare-incident'))
    const select = screen.getByTestId('declare-tenant') as HTMLSelectElement
    await waitFor(() => expect(select.value).toBe(contoso))
    const options = Array.from(select.options).map((o) => o.textContent ?? '')
    expect(options[0]).toMatch(/Training tenant \(training — simulated/)
    expect(options[1]).toBe('Contoso')

    const form = screen.getByTestId('declare-form')
    const field = (name: string) => form.querySelector(`[name=${name}]`) as HTMLInputElement
    await fireEvent.input(field('title'), { target: { value: 'Drill' } })
    await fireEvent.input(field('accounts'), { target: { value: 'j@contoso.com' } })
    await fireEvent.input(field('commander'), { target: { value: 'Sam' } })
    await fireEvent.change(select, { target: { value: 'training' } })
    await fireEvent.click(screen.getByTestId('declare-submit'))

    const header = await screen.findByTestId('case-header')
    expect(sent).toEqual(['training'])
    expect((await within(header).findByTestId('case-tenant')).textContent).toBe('Training tenant (training)')
  })

  it('shows what the backend refused', async () => {
    const backend = fakeBackend({
      declareIncident: async () => ({
        status: 'error',
        error: { kind: 'invalid', message: 'The detection time is in the future.' },
      }),
    })
    render(App, { backend })
    await fireEvent.click(await screen.findByTestId('declare-incident'))
    const form = screen.getByTestId('declare-form')
    const field = (name: string) => form.querySelector(`[name=${name}]`) as HTMLInputElement
    await fireEvent.input(field('title'), { target: { value: 'x' } })
    await fireEvent.input(field('accounts'), { target: { value: 'j@contoso.com' } })
    await fireEvent.input(field('commander'), { target: { value: 'Sam' } })
    await fireEvent.click(screen.getByTestId('declare-submit'))
    expect((await screen.findByTestId('declare-error')).textContent).toContain('in the future')
  })
})

describe('Case page', () => {
  const listed = { listCases: async () => ({ status: 'ok' as const, data: [summary()] }) }

  it('shows severity, accounts and the incident clock in the header', async () => {
    const header = await openCase(fakeBackend({ ...listed, openCase: async () => ({ status: 'ok', data: caseView() }) }))
    expect(within(header).getByTestId('case-severity').textContent).toBe('Critical')
    expect(within(header).getByTestId('case-accounts').textContent).toBe('j.doe@contoso.com')
    // now = 00:15 next day; detected 21:40, aware 22:00.
    expect(within(header).getByTestId('since-detection').textContent).toBe('2 h 35 min')
    expect(within(header).getByTestId('since-awareness').textContent).toBe('2 h 15 min')
    expect(within(header).getByTestId('gdpr-left').textContent?.trim()).toBe('2 d 21 h left')
  })

  it('renders tenant-controlled strings in the timeline and evidence as text', async () => {
    await openCase(fakeBackend({ ...listed, openCase: async () => ({ status: 'ok', data: caseView() }) }))
    await fireEvent.click(screen.getByRole('tab', { name: /Evidence/ }))
    const evidence = screen.getByTestId('evidence-list')
    expect(evidence.textContent).toContain(hostile)
    expect(evidence.textContent).toContain('c'.repeat(64))
    expect(evidence.querySelector('img')).toBeNull()
    await fireEvent.click(screen.getByRole('tab', { name: /Timeline/ }))
    const timeline = screen.getByTestId('timeline')
    expect(timeline.textContent).toContain(`Evidence saved: ${hostile}`)
    expect(timeline.querySelector('img')).toBeNull()
    const items = timeline.querySelectorAll('li')
    expect(items[0].getAttribute('data-kind')).toBe('evidence_added')
  })

  it('logs a notification and shows the warning the backend recorded', async () => {
    let view = caseView()
    let sent: NotificationInput | null = null
    const record: CaseNotification = {
      role: 'user',
      recipient: 'Jane',
      address: null,
      channel: 'teams',
      toldAt: '2026-03-02T00:10:00Z',
      message: 'Call IT',
      warnings: [{ code: 'compromisedChannel', message: 'This went through the compromised account’s Teams.' }],
    }
    const backend = fakeBackend({
      ...listed,
      openCase: async () => ({ status: 'ok', data: view }),
      logNotification: async (_id, notification) => {
        sent = notification
        view = { ...view, notifications: [record] }
        return { status: 'ok', data: record }
      },
    })
    await openCase(backend)
    await fireEvent.click(await screen.findByTestId('log-other'))
    const form = screen.getByTestId('notification-form')
    const field = (name: string) => form.querySelector(`[name=${name}]`) as HTMLInputElement
    await fireEvent.change(field('role'), { target: { value: 'user' } })
    await fireEvent.change(field('channel'), { target: { value: 'teams' } })
    expect(screen.getByTestId('channel-warning').textContent).toContain('phone or in')
    await fireEvent.input(field('recipient'), { target: { value: 'Jane' } })
    await fireEvent.input(field('message'), { target: { value: 'Call IT' } })
    await fireEvent.click(screen.getByTestId('notification-submit'))

    const log = await screen.findByTestId('comms-log')
    expect(log.textContent).toContain('Jane')
    expect(log.querySelector('[data-warning=compromisedChannel]')?.textContent).toContain('compromised')
    expect(sent).toMatchObject({ role: 'user', channel: 'teams', recipient: 'Jane' })
  })

  it('edits the details in the same form and reloads the case', async () => {
    let view = caseView()
    let sent: CaseDetailsInput | null = null
    const backend = fakeBackend({
      ...listed,
      openCase: async () => ({ status: 'ok', data: view }),
      updateCase: async (_id, details) => {
        sent = details
        view = caseView({ details: { ...view.details, severity: details.severity } })
        return { status: 'ok', data: 1 }
      },
    })
    await openCase(backend)
    await fireEvent.click(screen.getByTestId('edit-case'))
    const form = screen.getByTestId('declare-form')
    expect((form.querySelector('[name=title]') as HTMLInputElement).value).toBe('Invoice fraud — j.doe')
    expect((form.querySelector('[name=accounts]') as HTMLTextAreaElement).value).toBe('j.doe@contoso.com')
    await fireEvent.click(within(form).getByLabelText(/Medium/))
    await fireEvent.click(within(form).getByRole('button', { name: 'Save changes' }))
    const header = await screen.findByTestId('case-header')
    expect(within(header).getByTestId('case-severity').textContent).toBe('Medium')
    const details = sent as unknown as CaseDetailsInput
    expect(details.severity).toBe('medium')
    expect(details.detectedAt).toBe('2026-03-01T21:40:00.000Z')
    expect(details.externalTicket).toBe('INC-2041')
  })

  it('offers to set a torn journal entry aside and says the case is read-only', async () => {
    const torn = caseView({
      journal: { state: 'tornTail', description: 'The last journal entry is incomplete.' },
      readOnly: true,
    })
    const recoverTornEntry = vi.fn(async () => ({ status: 'ok' as const, data: caseView() }))
    await openCase(fakeBackend({ ...listed, openCase: async () => ({ status: 'ok', data: torn }), recoverTornEntry }))
    expect(screen.getByTestId('journal-torn').textContent).toContain('read-only')
    expect(screen.queryByTestId('log-other'), 'nothing can be logged in a read-only case').toBeNull()
    await fireEvent.click(screen.getByTestId('recover-torn'))
    await waitFor(() => expect(screen.queryByTestId('journal-torn')).toBeNull())
    expect(recoverTornEntry).toHaveBeenCalledWith('20260301-2215-abc123')
  })

  it('exports the bundle with progress and a cancel button that cancels that operation', async () => {
    let progress: OnProgress = () => {}
    let finish: (ok: boolean) => void = () => {}
    let exportedId = ''
    const cancelOperation = vi.fn(async (id: string) => {
      expect(id).toBe(exportedId)
      finish(false)
      return true
    })
    const backend = fakeBackend({
      ...listed,
      openCase: async () => ({ status: 'ok', data: caseView() }),
      exportBundle: (_case, operationId, onProgress) => {
        exportedId = operationId
        progress = onProgress
        return new Promise((resolve) => {
          finish = (ok) =>
            resolve(
              ok
                ? { status: 'ok', data: { path: '/data/exports/b.zip', files: 4, bytes: 4096, sumsSha256: 'd'.repeat(64) } }
                : { status: 'error', error: { kind: 'cancelled', message: 'Cancelled.' } },
            )
        })
      },
      cancelOperation,
    })
    await openCase(backend)
    await fireEvent.click(screen.getByRole('tab', { name: /Bundle/ }))
    await fireEvent.click(screen.getByTestId('export-bundle'))
    progress({ bytesDone: 512 * 1024, bytesTotal: 1024 * 1024 })
    const bar = await screen.findByTestId('operation-progress')
    await waitFor(() => expect(bar.querySelector('progress')?.getAttribute('value')).toBe('50'))
    expect(bar.textContent).toContain('512 KB of 1.0 MB')
    await fireEvent.click(screen.getByTestId('cancel-operation'))
    expect(cancelOperation).toHaveBeenCalledOnce()
    await screen.findByText('Export cancelled. No bundle was written.')
    expect(screen.queryByTestId('operation-progress')).toBeNull()

    await fireEvent.click(screen.getByTestId('export-bundle'))
    finish(true)
    expect((await screen.findByTestId('bundle-path')).textContent).toBe('/data/exports/b.zip')
  })

  it('verifies a bundle and names what was altered, missing and extra', async () => {
    const result: BundleVerification = {
      bundle: '/x.zip',
      caseId: '20260301-2215-abc123',
      intact: false,
      checked: 7,
      altered: ['evidence/0001-inbox_rules.json'],
      missing: ['communications.json'],
      extra: ['evidence/0009-planted.json'],
      journal: { state: 'broken', description: 'The journal is broken at line 3.' },
      problems: [],
    }
    const verifyBundle = vi.fn(async () => ({ status: 'ok' as const, data: result }))
    await openCase(fakeBackend({ ...listed, openCase: async () => ({ status: 'ok', data: caseView() }), verifyBundle }))
    await fireEvent.click(screen.getByRole('tab', { name: /Bundle/ }))
    const input = screen.getByTestId('bundle-panel').querySelector('[name=bundlePath]') as HTMLInputElement
    await fireEvent.input(input, { target: { value: '/x.zip' } })
    await fireEvent.click(screen.getByTestId('verify-bundle'))
    const shown = await screen.findByTestId('verify-result')
    expect(shown.textContent).toContain('Not intact')
    expect(shown.textContent).toContain('Altered: evidence/0001-inbox_rules.json')
    expect(shown.textContent).toContain('Missing: communications.json')
    expect(shown.textContent).toContain('Extra: evidence/0009-planted.json')
    expect(shown.textContent).toContain('broken at line 3')
    expect(verifyBundle).toHaveBeenCalledWith('/x.zip', expect.any(String), expect.any(Function))
  })
})

describe('format helpers', () => {
  it('formats spans and converts local input times to UTC and back', () => {
    expect(formatSpan(7 * 60_000)).toBe('7 min')
    expect(formatSpan(125 * 60_000)).toBe('2 h 05 min')
    expect(formatSpan((3 * 1440 + 4 * 60) * 60_000)).toBe('3 d 4 h')
    const local = toLocalInput(new Date('2026-03-01T21:40:00Z'))
    expect(fromLocalInput(local)).toBe('2026-03-01T21:40:00.000Z')
    expect(fromLocalInput('nonsense')).toBeNull()
  })
})
