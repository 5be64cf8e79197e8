import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte'
import { describe, expect, it, vi } from 'vitest'
import App from '../App.svelte'
import type {
  Backend,
  CaseContactInput,
  CaseNotification,
  CaseView,
  CommunicationView,
  ContactCard,
  NotificationInput,
} from '../lib/backend'
import { fakeBackend } from '../test/fakeBackend'

const hostile = '<img src=x onerror="window.pwned=1">'
const caseId = '20260301-2215-abc123'

function caseView(notifications: CaseNotification[] = []): CaseView {
  return {
    id: caseId,
    folder: '/data/cases/x',
    openedAt: '2026-03-01T22:15:00Z',
    details: {
      title: 'Invoice fraud — j.doe',
      detectedAt: '2026-03-01T21:40:00Z',
      awareAt: '2026-03-01T22:00:00Z',
      alertSource: 'financeOrVendorCall',
      indicators: [],
      affectedWorkloads: ['exchangeOnline'],
      severity: 'high',
      accounts: ['j.doe@contoso.com'],
      incidentCommander: 'Sam Okafor',
      externalTicket: null,
    },
    tenantProfile: null,
    journal: { state: 'intact', description: 'The journal is intact.' },
    readOnly: false,
    entries: [],
    evidence: [],
    notifications,
    steps: [],
  }
}

function contact(role: ContactCard['role'], overrides: Partial<ContactCard> = {}): ContactCard {
  return {
    role,
    label: `Label ${role}`,
    name: '',
    phone: '',
    email: '',
    origin: 'missing',
    needed: true,
    advice: `Advice for ${role}`,
    channel: 'phone',
    draft: { title: `Draft ${role}`, text: `Wording for ${role}`, deadline: null },
    lastTold: null,
    ...overrides,
  }
}

function panel(overrides: Partial<CommunicationView> = {}): CommunicationView {
  return {
    warning: 'Do not contact the user through their work mailbox or Teams.',
    awareAt: '2026-03-01T22:00:00Z',
    gdprDeadline: '2026-03-04T22:00:00Z',
    nis2Applies: null,
    nis2Deadline: null,
    contacts: [
      contact('user', { name: hostile, phone: '+44 7700 900123', origin: 'case', draft: { title: 'Phone script', text: `Hello ${hostile},\nthis is Sam.`, deadline: null } }),
      contact('securityLead', { name: 'Lee', phone: '+49 30 999', origin: 'organisation' }),
      contact('privacyLead', { name: 'Dana', email: 'dpo@contoso.example', origin: 'organisation', draft: { title: 'Heads-up', text: 'Aware at 23:00', deadline: '2026-03-04T22:00:00Z' } }),
      contact('finance', { needed: false }),
    ],
    ...overrides,
  }
}

async function openCommunication(overrides: Partial<Backend>) {
  const backend = fakeBackend({
    listCases: async () => ({
      status: 'ok',
      data: [{ id: caseId, title: 'Invoice fraud — j.doe', severity: 'high', accounts: ['j.doe@contoso.com'], openedAt: '2026-03-01T22:15:00Z', detectedAt: '2026-03-01T21:40:00Z', awareAt: '2026-03-01T22:00:00Z', journal: { state: 'intact', description: '' }, interruptedSteps: 0 }],
    }),
    openCase: async () => ({ status: 'ok', data: caseView() }),
    communicationView: async () => ({ status: 'ok', data: panel() }),
    ...overrides,
  })
  render(App, { backend, now: () => new Date('2026-03-02T00:15:00Z') })
  await fireEvent.click(await screen.findByText('Invoice fraud — j.doe'))
  return screen.findByTestId('contact-pane')
}

describe('Communication panel', () => {
  it('warns against the compromised mailbox and Teams, shows the deadlines and starts with the first person still to tell', async () => {
    const pane = await openCommunication({})
    expect(screen.getByTestId('comms-warning').textContent).toContain('mailbox or Teams')
    expect(screen.getByTestId('gdpr-deadline').textContent).toContain('2 d 21 h')
    expect(screen.getByTestId('nis2-undecided').textContent).toContain('Settings')
    expect(pane.getAttribute('data-role')).toBe('user')
    expect(within(pane).getByTestId('contact-phone').textContent).toBe('+44 7700 900123')
    const statuses = screen.getAllByTestId('contact-status').map((s) => s.textContent)
    expect(statuses).toEqual(['Not told yet', 'Not told yet', 'Not told yet', 'If needed'])
  })

  it('renders names and wording as text and runs no script', async () => {
    const pane = await openCommunication({})
    expect(within(pane).getByTestId('contact-name').textContent).toBe(hostile)
    expect((within(pane).getByTestId('draft-text') as HTMLTextAreaElement).value).toContain(hostile)
    expect(document.querySelector('img[src=x]')).toBeNull()
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined()
  })

  it('logs the adapted wording for the chosen contact, prefilled and editable', async () => {
    let sent: NotificationInput | null = null
    let view = caseView()
    let reloaded = 0
    const pane = await openCommunication({
      openCase: async () => ({ status: 'ok', data: view }),
      communicationView: async () => {
        reloaded++
        return { status: 'ok', data: panel() }
      },
      logNotification: async (_id, notification) => {
        sent = notification
        const record: CaseNotification = { ...notification, address: notification.address ?? null, warnings: [] }
        view = caseView([record])
        return { status: 'ok', data: record }
      },
    })
    await fireEvent.click(screen.getByRole('button', { name: /Label privacyLead/ }))
    const privacy = screen.getByTestId('contact-pane')
    expect(privacy.getAttribute('data-role')).toBe('privacyLead')
    expect(within(privacy).getByTestId('draft-deadline').textContent).toContain('2 d 21 h')
    await fireEvent.input(within(privacy).getByTestId('draft-text'), { target: { value: 'Aware at 23:00 — adapted' } })
    await fireEvent.click(within(privacy).getByTestId('log-told'))
    const form = within(privacy).getByTestId('notification-form')
    const field = (name: string) => form.querySelector(`[name=${name}]`) as HTMLInputElement
    expect(field('role').value).toBe('privacyLead')
    expect(field('recipient').value).toBe('Dana')
    expect(field('address').value).toBe('dpo@contoso.example')
    expect(field('channel').value).toBe('phone')
    expect(field('message').value).toBe('Aware at 23:00 — adapted')
    await fireEvent.input(field('recipient'), { target: { value: 'Dana Weiss' } })
    await fireEvent.click(within(form).getByTestId('notification-submit'))
    await waitFor(() => expect(sent).not.toBeNull())
    expect(sent).toMatchObject({ role: 'privacyLead', recipient: 'Dana Weiss', channel: 'phone', message: 'Aware at 23:00 — adapted' })
    const log = await screen.findByTestId('comms-log')
    expect(log.textContent).toContain('Dana Weiss')
    await waitFor(() => expect(reloaded).toBeGreaterThan(1))
  })

  it('copies the wording as adapted', async () => {
    const writeText = vi.fn(async () => {})
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    const pane = await openCommunication({})
    await fireEvent.input(within(pane).getByTestId('draft-text'), { target: { value: 'Hello Jane, adapted' } })
    await fireEvent.click(within(pane).getByTestId('copy-draft'))
    await waitFor(() => expect(writeText).toHaveBeenCalledWith('Hello Jane, adapted'))
    expect(await within(pane).findByText('Copied.')).toBeTruthy()
  })

  it('saves an edited contact with the other contacts of the case, not the organisation', async () => {
    let saved: CaseContactInput[] | null = null
    await openCommunication({
      saveCaseContacts: async (_id, contacts) => {
        saved = contacts
        return { status: 'ok', data: panel({ contacts: panel().contacts.map((c) => (c.role === 'securityLead' ? { ...c, phone: '+49 30 111', origin: 'case' } : c)) }) }
      },
    })
    await fireEvent.click(screen.getByRole('button', { name: /Label securityLead/ }))
    await fireEvent.click(screen.getByTestId('edit-contact'))
    await fireEvent.input(screen.getByTestId('contact-phone-input'), { target: { value: '+49 30 111' } })
    await fireEvent.click(screen.getByTestId('contact-save'))
    await waitFor(() => expect(screen.getByTestId('contact-phone').textContent).toBe('+49 30 111'))
    expect(saved).toEqual([
      { role: 'user', name: hostile, phone: '+44 7700 900123', email: '' },
      { role: 'securityLead', name: 'Lee', phone: '+49 30 111', email: '' },
    ])
    expect(screen.queryByTestId('contact-editor')).toBeNull()
  })

  it('shows the NIS2 early-warning deadline when the organisation is in scope', async () => {
    await openCommunication({
      communicationView: async () => ({
        status: 'ok',
        data: panel({
          nis2Applies: true,
          nis2Deadline: '2026-03-02T22:00:00Z',
          contacts: [...panel().contacts, contact('authority', { draft: { title: 'NIS2 24-hour early warning', text: 'Early warning', deadline: '2026-03-02T22:00:00Z' } })],
        }),
      }),
    })
    expect(screen.getByTestId('nis2-deadline').textContent).toContain('21 h 45 min')
    await fireEvent.click(screen.getByRole('button', { name: /Label authority/ }))
    expect(screen.getByTestId('contact-pane').getAttribute('data-role')).toBe('authority')
  })

  it('says when a contact was last told', async () => {
    await openCommunication({
      communicationView: async () => ({
        status: 'ok',
        data: panel({ contacts: panel().contacts.map((c) => (c.role === 'user' ? { ...c, lastTold: '2026-03-01T23:00:00Z' } : c)) }),
      }),
    })
    const statuses = screen.getAllByTestId('contact-status').map((s) => s.textContent ?? '')
    expect(statuses[0]).toMatch(/^Told /)
    expect(screen.getByTestId('contact-pane').getAttribute('data-role')).toBe('securityLead')
  })
})
